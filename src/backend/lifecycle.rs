//! What a networked backend's life is made of, whatever the connection:
//! closing, the outcome of the first attempt, the supervisor loop
//! (connect, serve until the connection is lost, back off, again), and the
//! idle connections kept for blocking commands. The single-server (and
//! Sentinel) backend and the cluster backend both run on it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{BoxFuture, Event, EventSink};
use crate::error::{Error, Kind, Result};

pub struct Lifecycle {
  /// `true` once closed; the supervisor and waiters watch it.
  closed: watch::Sender<bool>,
  /// The outcome of the first connection attempt, once known.
  first: watch::Sender<Option<Result<()>>>,
  pub events: EventSink,
}

impl Lifecycle {
  pub fn new(events: EventSink) -> Self {
    Lifecycle {
      closed: watch::channel(false).0,
      first: watch::channel(None).0,
      events,
    }
  }

  pub fn is_closed(&self) -> bool {
    *self.closed.borrow()
  }

  /// Ends the supervisor and every wait that watches `closing` or
  /// `first_connect` (a client closed, or collected, before its first
  /// attempt ended: the waiting task holds the backend, so it must end).
  pub fn close(&self) {
    self.closed.send_replace(true);
    self.record_first(Err(Error::closed()));
  }

  /// Resolves once closed.
  pub async fn closing(&self) {
    let mut closed = self.closed.subscribe();
    let _ = closed.wait_for(|c| *c).await;
  }

  /// Resolves once the first connection attempt has ended, with its outcome.
  pub async fn first_connect(&self) -> Result<()> {
    let mut rx = self.first.subscribe();
    let outcome = match rx.wait_for(|first| first.is_some()).await {
      Ok(first) => first.clone().unwrap_or(Ok(())),
      Err(_) => Err(Error::closed()),
    };
    outcome
  }

  fn record_first(&self, outcome: Result<()>) {
    self.first.send_if_modified(|first| {
      let unset = first.is_none();
      if unset {
        *first = Some(outcome);
      }
      unset
    });
  }

  /// Awaits a blocking command's reply for at most `limit`, or until closed.
  pub async fn bounded<T>(
    &self,
    limit: Duration,
    reply: impl std::future::Future<Output = T>,
  ) -> Result<T> {
    tokio::select! {
      r = tokio::time::timeout(limit, reply) => r.map_err(|_| Error::new(Kind::Timeout, "blocking command timed out")),
      _ = self.closing() => Err(Error::closed()),
    }
  }
}

const FIRST_BACKOFF_MS: u64 = 100;
const MAX_BACKOFF_MS: u64 = 5_000;

/// The wait before reconnection attempt `attempt` (from 1): 100 ms doubling to 5 s.
fn backoff_ms(attempt: u32) -> u64 {
  let exp = attempt.saturating_sub(1).min(16);
  (FIRST_BACKOFF_MS << exp).min(MAX_BACKOFF_MS)
}

/// A backend's connection, as the supervisor drives it.
pub trait Link: Send + Sync + 'static {
  type Conn: Send;
  fn lifecycle(&self) -> &Lifecycle;
  /// Every network step of it is bounded (connect or command timeout): the
  /// supervisor awaits it, and a first attempt that hung would hold
  /// `createClient` for good.
  fn connect(&self) -> BoxFuture<'_, Result<Self::Conn>>;
  /// Makes `conn` the one commands use.
  fn install(&self, conn: &Self::Conn);
  /// Resolves with why `conn` can no longer be used.
  fn watch(&self, conn: Self::Conn) -> BoxFuture<'_, Error>;
  /// Drops the live connection (commands fail at once until the next).
  fn lost(&self);
}

/// Connects, serves, and reconnects with backoff until closed, emitting
/// `Ready`, `Error`, `Reconnecting` and, last, `End`.
pub async fn supervise<L: Link>(link: Arc<L>) {
  let life = link.lifecycle();
  let mut attempt: u32 = 0;
  loop {
    let outcome = tokio::select! {
      r = link.connect() => r,
      _ = life.closing() => break,
    };
    life.record_first(outcome.as_ref().map(|_| ()).map_err(Clone::clone));
    match outcome {
      Ok(conn) => {
        attempt = 0;
        link.install(&conn);
        (life.events)(Event::Ready);
        let reason = tokio::select! {
          r = link.watch(conn) => r,
          _ = life.closing() => break,
        };
        link.lost();
        (life.events)(Event::Error(reason));
      }
      Err(err) => {
        (life.events)(Event::Error(err));
      }
    }
    attempt = attempt.saturating_add(1);
    let delay_ms = backoff_ms(attempt);
    (life.events)(Event::Reconnecting { attempt, delay_ms });
    tokio::select! {
      _ = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
      _ = life.closing() => break,
    }
  }
  link.lost();
  (life.events)(Event::End);
}

/// Idle connections for blocking commands: each command takes one for itself.
pub struct Pool<C> {
  idle: Mutex<Vec<C>>,
  most: usize,
}

impl<C> Pool<C> {
  pub fn new(most: usize) -> Self {
    Pool {
      idle: Mutex::new(Vec::new()),
      most,
    }
  }

  pub fn take(&self) -> Option<C> {
    self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
  }

  /// Keeps `conn` for the next command; hands it back when enough are kept.
  pub fn give(&self, conn: C) -> Option<C> {
    let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < self.most {
      idle.push(conn);
      return None;
    }
    Some(conn)
  }

  /// Takes every idle connection out.
  pub fn drain(&self) -> Vec<C> {
    std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()))
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

  #[tokio::test]
  async fn closing_before_the_first_attempt_ends_the_wait_for_it() {
    let life = Lifecycle::new(Arc::new(|_| {}));
    life.close();
    // The bound only turns a wait that never ends into a failure.
    let outcome = tokio::time::timeout(Duration::from_secs(10), life.first_connect()).await;
    assert_eq!(
      outcome.map(|r| r.map_err(|e| e.kind())),
      Ok(Err(Kind::Closed))
    );
  }

  #[test]
  fn the_pool_keeps_at_most_its_bound() {
    let pool = Pool::new(1);
    assert_eq!(pool.give(1), None);
    assert_eq!(pool.give(2), Some(2));
    assert_eq!(pool.take(), Some(1));
    assert_eq!(pool.give(3), None);
    assert_eq!(pool.drain(), vec![3]);
    assert_eq!(pool.take(), None);
  }
}
