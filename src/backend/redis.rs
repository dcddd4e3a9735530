//! A single Redis server, or the master Sentinel names (`sentinel.rs`), over
//! one pipelined connection (`pipe.rs`, opened by `wire.rs`: TCP or TLS),
//! kept alive by a supervisor task.
//!
//! - Commands go to the current connection; while there is none they fail at
//!   once with `ERR_UNAVAILABLE` (never queued, so a write attempted during an
//!   outage is never replayed later).
//! - A command that sees the connection drop wakes the supervisor, which
//!   reconnects with exponential backoff (100 ms doubling to 5 s) and emits
//!   `Reconnecting`, `Error` and `Ready` events; an idle connection is checked
//!   by a PING every second so an outage is noticed without traffic.
//! - With `tracking` (L1 coherence, `tracking.rs`), every new connection
//!   comes with an invalidation subscriber; losing either one loses both, and
//!   the L1 is flushed at once (invalidations may be missed while down).
//! - Blocking commands (the queue's pops) get connections of their own, kept
//!   in a small pool; one that timed out is closed, since the server may
//!   still hold it blocked.
//! - `close()` stops the supervisor and drops every connection.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use super::pipe::Pipe;
use super::sentinel::{self, Sentinels};
use super::tracking::{Invalidation, Subscriber, Tracking};
use super::wire::{self, Dialer};
use super::{Args, Backend, BoxFuture, Event, EventSink, Health, Reply};
use crate::bridge::Bridge;
use crate::config::{SentinelTarget, TlsOptions};
use crate::error::{Error, Kind, Result};

const HEARTBEAT: Duration = Duration::from_secs(1);
const FIRST_BACKOFF_MS: u64 = 100;
const MAX_BACKOFF_MS: u64 = 5_000;
/// Idle connections kept for blocking commands.
const BLOCKING_POOL: usize = 4;

pub struct RedisBackend {
  shared: Arc<Shared>,
}

/// Where the server is.
enum Locator {
  Fixed(String, u16),
  /// Wherever the sentinels say the master is, checked with `ROLE`.
  Sentinel(Sentinels),
}

/// What every connection of the client shares.
pub struct Options {
  pub tls: Option<TlsOptions>,
  pub connect_timeout: Duration,
  pub command_timeout: Duration,
  pub bridge: Arc<Bridge>,
  pub events: EventSink,
  /// L1 coherence: `None` when the client has no L1 or uses `coherence: 'ttl'`.
  pub tracking: Option<Tracking>,
}

struct Shared {
  locator: Locator,
  dialer: Dialer,
  bridge: Arc<Bridge>,
  command_timeout: Duration,
  conn: Mutex<Option<Live>>,
  /// Connections for blocking commands, to the current server.
  blocking_pool: Mutex<Vec<Arc<Pipe>>>,
  health: AtomicU8,
  /// `true` once closed; the supervisor and waiters watch it.
  closed: watch::Sender<bool>,
  /// The outcome of the first connection attempt, once known.
  first: watch::Sender<Option<Result<()>>>,
  events: EventSink,
  tracking: Option<Tracking>,
}

/// The connection in use, and the server it goes to.
#[derive(Clone)]
struct Live {
  pipe: Arc<Pipe>,
  host: String,
  port: u16,
}

impl RedisBackend {
  /// A single server, by URL. Starts connecting in the background; never blocks.
  pub fn start(url: &str, opts: Options) -> Result<Self> {
    let (host, port, handshake) = wire::server_of(url)?;
    Self::launch(Locator::Fixed(host, port), handshake, opts)
  }

  /// The master a set of sentinels names.
  pub fn sentinel(target: &SentinelTarget, opts: Options) -> Result<Self> {
    let handshake = wire::handshake(
      target.username.as_deref(),
      target.password.as_deref(),
      target.db,
    );
    let dialer = Dialer::new(opts.tls.as_ref(), Vec::new(), opts.connect_timeout)?;
    let sentinels = Sentinels::new(target, &dialer)?;
    Self::launch(Locator::Sentinel(sentinels), handshake, opts)
  }

  fn launch(locator: Locator, handshake: Vec<Args>, opts: Options) -> Result<Self> {
    let dialer = Dialer::new(opts.tls.as_ref(), handshake, opts.connect_timeout)?;
    let shared = Arc::new(Shared {
      locator,
      dialer,
      bridge: opts.bridge,
      command_timeout: opts.command_timeout,
      conn: Mutex::new(None),
      blocking_pool: Mutex::new(Vec::new()),
      health: AtomicU8::new(Health::Connecting as u8),
      closed: watch::channel(false).0,
      first: watch::channel(None).0,
      events: opts.events,
      tracking: opts.tracking,
    });
    napi::bindgen_prelude::spawn(supervise(shared.clone()));
    Ok(RedisBackend { shared })
  }
}

impl Shared {
  fn set_health(&self, health: Health) {
    self.health.store(health as u8, Ordering::Release);
  }

  fn live(&self) -> MutexGuard<'_, Option<Live>> {
    self.conn.lock().unwrap_or_else(|e| e.into_inner())
  }

  fn pool(&self) -> MutexGuard<'_, Vec<Arc<Pipe>>> {
    self.blocking_pool.lock().unwrap_or_else(|e| e.into_inner())
  }

  pub(super) fn current(&self) -> Option<Arc<Pipe>> {
    self.live().as_ref().map(|live| live.pipe.clone())
  }

  /// Swaps the live connection; a replaced one is shut down, with the
  /// blocking connections to its server.
  fn replace(&self, conn: Option<Live>) {
    let old = std::mem::replace(&mut *self.live(), conn);
    let lost = || Error::unavailable("connection to Redis lost");
    if let Some(old) = old {
      old.pipe.shutdown(lost());
    }
    for pipe in self.pool().drain(..) {
      pipe.shutdown(lost());
    }
  }

  fn is_closed(&self) -> bool {
    *self.closed.borrow()
  }

  async fn locate(&self) -> Result<(String, u16)> {
    match &self.locator {
      Locator::Fixed(host, port) => Ok((host.clone(), *port)),
      Locator::Sentinel(sentinels) => sentinels.master().await,
    }
  }

  async fn connect(&self) -> Result<(Live, Option<Subscriber>)> {
    let (host, port) = self.locate().await?;
    let mut stream = self.dialer.open(&host, port).await?;
    if matches!(self.locator, Locator::Sentinel(_)) {
      let role = stream.request(crate::args![b"ROLE"]).await?;
      if !sentinel::is_master(&role) {
        return Err(Error::unavailable(
          "sentinel: the server named as master is not one (failover in progress)",
        ));
      }
    }
    let subscriber = match &self.tracking {
      None => None,
      Some(t) => {
        let timeout = self.dialer.timeout();
        match t
          .attach(&self.dialer, &host, port, timeout, &mut stream)
          .await
        {
          Ok(subscriber) => Some(subscriber),
          // Refused by the server: this connection works, its L1 copies live until their ttl.
          Err(err) if err.kind() == Kind::Redis => {
            let why = format!(
              "CLIENT TRACKING refused, L1 kept by ttl only: {}",
              err.message()
            );
            (self.events)(Event::Error(Error::new(Kind::Redis, why)));
            None
          }
          Err(err) => return Err(err),
        }
      }
    };
    let pipe = Pipe::start(stream, self.bridge.clone(), self.command_timeout)?;
    Ok((Live { pipe, host, port }, subscriber))
  }

  /// A connection for a blocking command: an idle one, else a new one to
  /// the current server.
  async fn blocking_conn(&self) -> Result<Arc<Pipe>> {
    loop {
      let pooled = self.pool().pop();
      match pooled {
        Some(pipe) if pipe.is_dead() => continue,
        Some(pipe) => return Ok(pipe),
        None => break,
      }
    }
    let (host, port) = match &*self.live() {
      Some(live) => (live.host.clone(), live.port),
      None => return Err(Error::unavailable("not connected to Redis")),
    };
    let stream = self.dialer.open(&host, port).await?;
    Pipe::start(stream, self.bridge.clone(), self.command_timeout)
  }
}

/// Connects, watches the connection, and reconnects with backoff until closed.
async fn supervise(shared: Arc<Shared>) {
  let mut closed = shared.closed.subscribe();
  let mut attempt: u32 = 0;
  loop {
    let outcome = tokio::select! {
      r = shared.connect() => r,
      _ = closed.wait_for(|c| *c) => break,
    };
    shared.first.send_if_modified(|first| {
      let unset = first.is_none();
      if unset {
        *first = Some(outcome.as_ref().map(|_| ()).map_err(Clone::clone));
      }
      unset
    });
    match outcome {
      Ok((live, mut subscriber)) => {
        attempt = 0;
        let conn = live.pipe.clone();
        shared.replace(Some(live));
        shared.set_health(Health::Ready);
        (shared.events)(Event::Ready);
        let check_role = matches!(shared.locator, Locator::Sentinel(_));
        let reason = tokio::select! {
          r = watch_connection(&conn, check_role) => r,
          r = super::tracking::lost(subscriber.as_mut()) => r,
          _ = closed.wait_for(|c| *c) => break,
        };
        drop(subscriber);
        shared.replace(None);
        if let Some(t) = &shared.tracking {
          (t.sink)(Invalidation::All);
        }
        shared.set_health(Health::Down);
        (shared.events)(Event::Error(reason));
      }
      Err(err) => {
        shared.set_health(Health::Down);
        (shared.events)(Event::Error(err));
      }
    }
    attempt = attempt.saturating_add(1);
    let delay_ms = backoff_ms(attempt);
    (shared.events)(Event::Reconnecting { attempt, delay_ms });
    tokio::select! {
      _ = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
      _ = closed.wait_for(|c| *c) => break,
    }
  }
  shared.replace(None);
  shared.set_health(Health::Closed);
  (shared.events)(Event::End);
}

/// Returns why the connection is no longer usable: it failed, an idle
/// check went unanswered, or (Sentinel) the server is no longer the master.
async fn watch_connection(conn: &Pipe, check_role: bool) -> Error {
  let check = if check_role {
    crate::args![b"ROLE"]
  } else {
    crate::args![b"PING"]
  };
  loop {
    tokio::select! {
      _ = conn.lost() => return Error::unavailable("connection to Redis lost"),
      _ = tokio::time::sleep(HEARTBEAT) => {
        match conn.exec(vec![check.clone()]).await.pop() {
          Some(Err(err)) if err.kind() != Kind::Redis => return err,
          Some(Ok(role)) if check_role && !sentinel::is_master(&role) => {
            return Error::unavailable("sentinel: the master became a replica (failover)");
          }
          _ => {}
        }
      }
    }
  }
}

pub(crate) fn backoff_ms(attempt: u32) -> u64 {
  let exp = attempt.saturating_sub(1).min(16);
  (FIRST_BACKOFF_MS << exp).min(MAX_BACKOFF_MS)
}

impl Backend for RedisBackend {
  fn name(&self) -> &'static str {
    "redis"
  }

  fn first_connect(&self) -> BoxFuture<'_, Result<()>> {
    Box::pin(async move {
      let mut rx = self.shared.first.subscribe();
      let outcome = rx.wait_for(|first| first.is_some()).await;
      match outcome {
        Ok(first) => first.clone().unwrap_or(Ok(())),
        Err(_) => Err(Error::closed()),
      }
    })
  }

  fn exec(&self, cmds: Vec<Args>) -> BoxFuture<'_, Vec<Result<Reply>>> {
    Box::pin(async move {
      if self.shared.is_closed() {
        return vec![Err(Error::closed()); cmds.len()];
      }
      match self.shared.current() {
        Some(conn) => conn.exec(cmds).await,
        None => vec![Err(Error::unavailable("not connected to Redis")); cmds.len()],
      }
    })
  }

  fn pipe(&self) -> Option<Arc<Pipe>> {
    self.shared.current()
  }

  fn delete_matching(&self, pattern: Vec<u8>, batch: usize) -> BoxFuture<'_, Result<u64>> {
    Box::pin(async move {
      let count = batch.to_string();
      let mut cursor = b"0".to_vec();
      let mut deleted = 0u64;
      loop {
        let reply = super::exec_one(
          self,
          crate::args![b"SCAN", cursor, b"MATCH", pattern, b"COUNT", count],
        )
        .await?;
        let (next, keys) = split_scan(reply)?;
        if !keys.is_empty() {
          let mut unlink = vec![b"UNLINK".to_vec()];
          unlink.extend(keys);
          let n = super::exec_one(self, unlink).await?;
          deleted += n.as_int().unwrap_or(0).max(0) as u64;
        }
        if next == b"0" {
          return Ok(deleted);
        }
        cursor = next;
      }
    })
  }

  fn exec_blocking(&self, args: Args, wait: Duration) -> BoxFuture<'_, Result<Reply>> {
    Box::pin(async move {
      let shared = &self.shared;
      if shared.is_closed() {
        return Err(Error::closed());
      }
      let conn = shared.blocking_conn().await?;
      let mut closed = shared.closed.subscribe();
      let outcome = tokio::select! {
        mut r = conn.exec_within(vec![args], wait + shared.command_timeout) => r.pop(),
        _ = closed.wait_for(|c| *c) => Some(Err(Error::closed())),
      };
      let outcome = outcome.unwrap_or_else(|| Err(Error::unavailable("no reply")));
      match &outcome {
        // The server answered: the connection is free again.
        Ok(_) => {}
        Err(err) if err.kind() == Kind::Redis => {}
        // Timed out or closed: the server may still be blocked on it.
        Err(err) => {
          conn.shutdown(err.clone());
          return outcome;
        }
      }
      let mut pool = shared.pool();
      if pool.len() < BLOCKING_POOL && shared.current().is_some() {
        pool.push(conn);
      } else {
        conn.shutdown(Error::closed());
      }
      outcome
    })
  }

  fn health(&self) -> Health {
    match self.shared.health.load(Ordering::Acquire) {
      x if x == Health::Ready as u8 => Health::Ready,
      x if x == Health::Connecting as u8 => Health::Connecting,
      x if x == Health::Down as u8 => Health::Down,
      _ => Health::Closed,
    }
  }

  fn close(&self) {
    self.shared.closed.send_replace(true);
    self.shared.replace(None);
  }
}

/// Splits a SCAN reply into the next cursor and the keys of this batch.
pub(crate) fn split_scan(reply: Reply) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
  let unexpected = || Error::new(Kind::Redis, "unexpected SCAN reply");
  let Reply::Array(mut parts) = reply else {
    return Err(unexpected());
  };
  if parts.len() != 2 {
    return Err(unexpected());
  }
  let keys = match parts.pop() {
    Some(Reply::Array(keys)) => keys
      .into_iter()
      .filter_map(|k| match k {
        Reply::Bulk(b) => Some(b),
        _ => None,
      })
      .collect(),
    _ => return Err(unexpected()),
  };
  match parts.pop() {
    Some(Reply::Bulk(cursor)) => Ok((cursor, keys)),
    _ => Err(unexpected()),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn backoff_doubles_then_caps() {
    assert_eq!(backoff_ms(1), 100);
    assert_eq!(backoff_ms(2), 200);
    assert_eq!(backoff_ms(4), 800);
    assert_eq!(backoff_ms(50), MAX_BACKOFF_MS);
  }

  #[test]
  fn scan_reply_splits_into_cursor_and_keys() {
    let reply = Reply::Array(vec![
      Reply::Bulk(b"17".to_vec()),
      Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Bulk(b"b".to_vec())]),
    ]);
    assert_eq!(
      split_scan(reply),
      Ok((b"17".to_vec(), vec![b"a".to_vec(), b"b".to_vec()]))
    );
    assert!(split_scan(Reply::Nil).is_err());
  }
}
