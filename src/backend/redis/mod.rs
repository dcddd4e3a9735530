//! A single Redis server, or the master Sentinel names (`sentinel.rs`), over
//! one pipelined connection (`pipe.rs`, opened by `wire.rs`: TCP or TLS),
//! kept alive by a supervisor task.
//!
//! - Every network step is bounded: opening a connection (TCP, TLS, AUTH,
//!   SELECT) by the connect timeout; every request after it (the sentinels'
//!   answer, the check below, the tracking setup, each command, each
//!   heartbeat) by the command timeout. A new connection is used only once
//!   the server has answered a check (`ROLE` naming a master with Sentinel,
//!   else `PING`), so a server that accepts and never answers (a blackhole)
//!   never becomes ready; the heartbeat drops one that goes silent later.
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

pub mod pipe;
pub mod sentinel;
pub mod socket;
pub mod tracking;
pub mod wire;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use self::pipe::Pipe;
use self::sentinel::Sentinels;
use self::tracking::{Invalidation, Subscriber, Tracking};
use self::wire::{Dialer, Stream};
use crate::backend::lifecycle::{self, Lifecycle, Link, Pool};
use crate::backend::{Args, Backend, BoxFuture, Completions, Event, EventSink, Reply};
use crate::error::{Error, Kind, Result};
use crate::target::{SentinelTarget, TlsOptions};

const HEARTBEAT: Duration = Duration::from_secs(1);
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
  /// Where the connections' JS results go (the bridge).
  pub completions: Arc<dyn Completions>,
  pub events: EventSink,
  /// L1 coherence: `None` when the client has no L1 or uses `coherence: 'ttl'`.
  pub tracking: Option<Tracking>,
}

struct Shared {
  locator: Locator,
  dialer: Dialer,
  completions: Arc<dyn Completions>,
  command_timeout: Duration,
  conn: Mutex<Option<Live>>,
  /// Connections for blocking commands, to the current server.
  blocking_pool: Pool<Arc<Pipe>>,
  life: Lifecycle,
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
    let sentinels = Sentinels::new(target, &dialer, opts.command_timeout)?;
    Self::launch(Locator::Sentinel(sentinels), handshake, opts)
  }

  fn launch(locator: Locator, handshake: Vec<Args>, opts: Options) -> Result<Self> {
    let dialer = Dialer::new(opts.tls.as_ref(), handshake, opts.connect_timeout)?;
    let shared = Arc::new(Shared {
      locator,
      dialer,
      completions: opts.completions,
      command_timeout: opts.command_timeout,
      conn: Mutex::new(None),
      blocking_pool: Pool::new(BLOCKING_POOL),
      life: Lifecycle::new(opts.events),
      tracking: opts.tracking,
    });
    napi::bindgen_prelude::spawn(lifecycle::supervise(shared.clone()));
    Ok(RedisBackend { shared })
  }
}

impl Shared {
  fn live(&self) -> MutexGuard<'_, Option<Live>> {
    self.conn.lock().unwrap_or_else(|e| e.into_inner())
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
    for pipe in self.blocking_pool.drain() {
      pipe.shutdown(lost());
    }
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
    self.check(&mut stream).await?;
    let subscriber = match &self.tracking {
      None => None,
      Some(t) => {
        let timeout = self.command_timeout;
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
            (self.life.events)(Event::Error(Error::new(Kind::Redis, why)));
            None
          }
          Err(err) => return Err(err),
        }
      }
    };
    let pipe = Pipe::start(stream, self.completions.clone(), self.command_timeout)?;
    Ok((Live { pipe, host, port }, subscriber))
  }

  /// Whether the server of a new connection answers, within the command
  /// timeout: with Sentinel, `ROLE` must name a master (a sentinel may still
  /// name the old one right after a failover); else any reply to `PING`
  /// will do, a server error (NOAUTH) included: the server is there.
  async fn check(&self, stream: &mut Stream) -> Result<()> {
    let sentinel = matches!(self.locator, Locator::Sentinel(_));
    match stream
      .request_within(probe(sentinel), self.command_timeout)
      .await
    {
      Ok(role) if sentinel && !sentinel::is_master(&role) => Err(Error::unavailable(
        "sentinel: the server named as master is not one (failover in progress)",
      )),
      Err(err) if err.kind() == Kind::Redis && !sentinel => Ok(()),
      other => other.map(drop),
    }
  }

  /// A connection for a blocking command: an idle one, else a new one to
  /// the current server.
  async fn blocking_conn(&self) -> Result<Arc<Pipe>> {
    loop {
      let pooled = self.blocking_pool.take();
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
    Pipe::start(stream, self.completions.clone(), self.command_timeout)
  }
}

/// The connection and, with L1 coherence, its invalidation subscriber.
type Connected = (Live, Option<Subscriber>);

impl Link for Shared {
  type Conn = Connected;

  fn lifecycle(&self) -> &Lifecycle {
    &self.life
  }

  fn connect(&self) -> BoxFuture<'_, Result<Connected>> {
    Box::pin(Shared::connect(self))
  }

  fn install(&self, (live, _): &Connected) {
    self.replace(Some(live.clone()));
  }

  /// Losing the subscriber loses the connection too: invalidations may be missed.
  fn watch(&self, (live, mut subscriber): Connected) -> BoxFuture<'_, Error> {
    Box::pin(async move {
      let check_role = matches!(self.locator, Locator::Sentinel(_));
      tokio::select! {
        r = watch_connection(&live.pipe, check_role) => r,
        r = tracking::lost(subscriber.as_mut()) => r,
      }
    })
  }

  /// Everything in the L1 may have changed unseen.
  fn lost(&self) {
    self.replace(None);
    if let Some(t) = &self.tracking {
      (t.sink)(Invalidation::All);
    }
  }
}

/// What checks that the server answers: `ROLE` with Sentinel (it must stay
/// a master), else `PING`.
fn probe(sentinel: bool) -> Args {
  if sentinel {
    crate::args![b"ROLE"]
  } else {
    crate::args![b"PING"]
  }
}

/// Returns why the connection is no longer usable: it failed, an idle
/// check went unanswered, or (Sentinel) the server is no longer the master.
async fn watch_connection(conn: &Pipe, check_role: bool) -> Error {
  let check = probe(check_role);
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

impl Backend for RedisBackend {
  fn name(&self) -> &'static str {
    "redis"
  }

  fn first_connect(&self) -> BoxFuture<'_, Result<()>> {
    Box::pin(self.shared.life.first_connect())
  }

  fn exec(&self, cmds: Vec<Args>) -> BoxFuture<'_, Vec<Result<Reply>>> {
    Box::pin(async move {
      if self.shared.life.is_closed() {
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
    Box::pin(crate::backend::scan_unlink(
      self,
      pattern,
      batch,
      move |scan| crate::backend::exec_one(self, scan),
    ))
  }

  fn exec_blocking(&self, args: Args, wait: Duration) -> BoxFuture<'_, Result<Reply>> {
    Box::pin(async move {
      let shared = &self.shared;
      if shared.life.is_closed() {
        return Err(Error::closed());
      }
      let conn = shared.blocking_conn().await?;
      // The pipe bounds the reply by `wait` plus the command timeout itself.
      let outcome = tokio::select! {
        mut r = conn.exec_within(vec![args], wait + shared.command_timeout) => r.pop(),
        _ = shared.life.closing() => Some(Err(Error::closed())),
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
      // Kept only while its server is the current one (`replace` empties the pool).
      if shared.current().is_some() {
        if let Some(extra) = shared.blocking_pool.give(conn) {
          extra.shutdown(Error::closed());
        }
      } else {
        conn.shutdown(Error::closed());
      }
      outcome
    })
  }

  fn close(&self) {
    self.shared.life.close();
    self.shared.replace(None);
  }
}
