//! A single Redis server over one pipelined connection (`pipe.rs`), kept
//! alive by a supervisor task.
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
//! - `close()` stops the supervisor and drops the connection.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo};
use tokio::sync::watch;

use super::pipe::{self, Pipe};
use super::tracking::{self, Invalidation, Subscriber, Tracking};
use super::{Args, Backend, BoxFuture, Event, EventSink, Health, Reply};
use crate::bridge::Bridge;
use crate::error::{Error, Kind, Result};

const HEARTBEAT: Duration = Duration::from_secs(1);
const FIRST_BACKOFF_MS: u64 = 100;
const MAX_BACKOFF_MS: u64 = 5_000;
/// Idle connections kept for blocking commands.
const BLOCKING_POOL: usize = 4;

pub struct RedisBackend {
  shared: Arc<Shared>,
}

struct Shared {
  host: String,
  port: u16,
  /// AUTH and SELECT, sent on every new connection.
  handshake: Vec<Args>,
  connect_timeout: Duration,
  bridge: Arc<Bridge>,
  /// Blocking commands go through redis-rs connections of their own.
  client: redis::Client,
  /// Blocking commands: no response timeout on the connection, the caller bounds the wait.
  blocking_config: AsyncConnectionConfig,
  blocking_pool: Mutex<Vec<MultiplexedConnection>>,
  command_timeout: Duration,
  conn: Mutex<Option<Arc<Pipe>>>,
  health: AtomicU8,
  /// `true` once closed; the supervisor and waiters watch it.
  closed: watch::Sender<bool>,
  /// The outcome of the first connection attempt, once known.
  first: watch::Sender<Option<Result<()>>>,
  events: EventSink,
  /// L1 coherence: `None` when the client has no L1 or uses `coherence: 'ttl'`.
  tracking: Option<Tracking>,
}

impl RedisBackend {
  /// Starts connecting in the background; never blocks.
  pub fn start(
    url: &str,
    connect_timeout: Duration,
    command_timeout: Duration,
    bridge: Arc<Bridge>,
    events: EventSink,
    tracking: Option<Tracking>,
  ) -> Result<Self> {
    let bad_url = || Error::invalid("url: not a valid Redis URL");
    let info = url.into_connection_info().map_err(|_| bad_url())?;
    let (host, port) = match info.addr() {
      ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
      _ => {
        return Err(Error::invalid(
          "url: only redis:// (plain TCP) is supported for now",
        ))
      }
    };
    let settings = info.redis_settings();
    let mut handshake = Vec::new();
    if let Some(password) = settings.password() {
      let mut auth = vec![b"AUTH".to_vec()];
      auth.extend(settings.username().map(|u| u.as_bytes().to_vec()));
      auth.push(password.as_bytes().to_vec());
      handshake.push(auth);
    }
    if settings.db() != 0 {
      handshake.push(crate::args![b"SELECT", settings.db().to_string()]);
    }
    let client = redis::Client::open(info).map_err(|_| bad_url())?;
    let blocking_config = AsyncConnectionConfig::new()
      .set_connection_timeout(Some(connect_timeout))
      .set_response_timeout(None);
    let shared = Arc::new(Shared {
      host,
      port,
      handshake,
      connect_timeout,
      bridge,
      client,
      blocking_config,
      blocking_pool: Mutex::new(Vec::new()),
      command_timeout,
      conn: Mutex::new(None),
      health: AtomicU8::new(Health::Connecting as u8),
      closed: watch::channel(false).0,
      first: watch::channel(None).0,
      events,
      tracking,
    });
    napi::bindgen_prelude::spawn(supervise(shared.clone()));
    Ok(RedisBackend { shared })
  }
}

impl Shared {
  fn set_health(&self, health: Health) {
    self.health.store(health as u8, Ordering::Release);
  }

  pub(super) fn current(&self) -> Option<Arc<Pipe>> {
    self.conn.lock().unwrap_or_else(|e| e.into_inner()).clone()
  }

  /// Swaps the live connection; a replaced one is shut down.
  fn replace(&self, conn: Option<Arc<Pipe>>) {
    let old = std::mem::replace(
      &mut *self.conn.lock().unwrap_or_else(|e| e.into_inner()),
      conn,
    );
    if let Some(old) = old {
      old.shutdown(Error::unavailable("connection to Redis lost"));
    }
  }

  fn is_closed(&self) -> bool {
    *self.closed.borrow()
  }

  async fn connect(&self) -> Result<(Arc<Pipe>, Option<Subscriber>)> {
    let stream =
      pipe::connect(&self.host, self.port, &self.handshake, self.connect_timeout).await?;
    let subscriber = match &self.tracking {
      None => None,
      Some(t) => {
        let attached = t.attach(
          &self.host,
          self.port,
          &self.handshake,
          self.connect_timeout,
          &stream,
        );
        match attached.await {
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
    let pipe = Pipe::start(stream, self.bridge.clone(), self.command_timeout);
    Ok((pipe, subscriber))
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
      Ok((conn, mut subscriber)) => {
        attempt = 0;
        shared.replace(Some(conn.clone()));
        shared.set_health(Health::Ready);
        (shared.events)(Event::Ready);
        let reason = tokio::select! {
          r = watch_connection(&conn) => r,
          r = tracking::lost(subscriber.as_mut()) => r,
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

/// Returns why the connection is no longer usable: it failed, or an idle
/// check went unanswered.
async fn watch_connection(conn: &Pipe) -> Error {
  loop {
    tokio::select! {
      _ = conn.lost() => return Error::unavailable("connection to Redis lost"),
      _ = tokio::time::sleep(HEARTBEAT) => {
        let ping = conn.exec(vec![crate::args![b"PING"]]).await.pop();
        if let Some(Err(err)) = ping {
          if err.kind() != Kind::Redis {
            return err;
          }
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
      if shared.current().is_none() {
        return Err(Error::unavailable("not connected to Redis"));
      }
      let pooled = shared
        .blocking_pool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop();
      let mut conn = match pooled {
        Some(conn) => conn,
        None => shared
          .client
          .get_multiplexed_async_connection_with_config(&shared.blocking_config)
          .await
          .map_err(Error::from)?,
      };
      let mut cmd = redis::Cmd::new();
      for arg in args {
        cmd.arg(arg);
      }
      let mut closed = shared.closed.subscribe();
      let outcome = tokio::select! {
        r = tokio::time::timeout(wait + shared.command_timeout, conn.req_packed_command(&cmd)) => r,
        _ = closed.wait_for(|c| *c) => return Err(Error::closed()),
      };
      match outcome {
        Err(_) => Err(Error::new(Kind::Timeout, "blocking command timed out")),
        Ok(Err(err)) => Err(Error::from(err)),
        Ok(Ok(value)) => {
          let mut pool = shared
            .blocking_pool
            .lock()
            .unwrap_or_else(|e| e.into_inner());
          if pool.len() < BLOCKING_POOL {
            pool.push(conn);
          }
          top_level(value)
        }
      }
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
    self
      .shared
      .blocking_pool
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .clear();
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

pub(crate) fn top_level(value: redis::Value) -> Result<Reply> {
  match value {
    redis::Value::ServerError(err) => Err(Error::new(Kind::Redis, server_error_text(&err))),
    other => Ok(convert(other)),
  }
}

fn server_error_text(err: &redis::ServerError) -> String {
  match err.details() {
    Some(details) => format!("{} {}", err.code(), details),
    None => err.code().to_string(),
  }
}

/// Driver values to our `Reply`; RESP3 maps and sets flatten to arrays as
/// RESP2 would send them.
pub(crate) fn convert(value: redis::Value) -> Reply {
  use redis::Value as V;
  match value {
    V::Nil => Reply::Nil,
    V::Int(n) => Reply::Int(n),
    V::BulkString(b) => Reply::Bulk(b),
    V::Array(items) | V::Set(items) => Reply::Array(items.into_iter().map(convert).collect()),
    V::SimpleString(s) => Reply::Status(s),
    V::Okay => Reply::Status("OK".into()),
    V::Map(pairs) => Reply::Array(
      pairs
        .into_iter()
        .flat_map(|(k, v)| [convert(k), convert(v)])
        .collect(),
    ),
    V::Attribute { data, .. } => convert(*data),
    V::Double(d) => Reply::Double(d),
    V::Boolean(b) => Reply::Bool(b),
    V::VerbatimString { text, .. } => Reply::Bulk(text.into_bytes()),
    V::BigNumber(n) => Reply::Bulk(n),
    V::Push { data, .. } => Reply::Array(data.into_iter().map(convert).collect()),
    V::ServerError(err) => Reply::Error(server_error_text(&err)),
    _ => Reply::Nil,
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
