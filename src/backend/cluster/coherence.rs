//! L1 coherence on a cluster: one invalidation subscriber per master.
//!
//! - The driver owns the data connections and opens them as it likes, so
//!   they cannot be told where to redirect invalidations. Instead each
//!   master gets two plain connections of ours, attached as a single
//!   server's are (`Tracking::attach`): a subscriber (`CLIENT ID`, `SUBSCRIBE
//!   __redis__:invalidate`) and, once it is subscribed, a tracker that runs
//!   `CLIENT TRACKING ON REDIRECT <subscriber id> BCAST [PREFIX <keyPrefix>]`
//!   and then only PINGs: BCAST reports every change under the prefix on
//!   that master to the subscriber. One connection cannot do both in that
//!   order (a RESP2 subscriber may only (un)subscribe, PING, QUIT or RESET),
//!   and the other order loses the invalidations sent before SUBSCRIBE.
//!   Tracking ends with the tracker, so losing either is losing the master.
//! - NOLOOP cannot help here (it only skips the tracker's own writes, and it
//!   writes nothing): this client's own writes come back as invalidations
//!   too and evict its own L1 copies, so a value it has just written is read
//!   again from Redis once.
//! - Losing a subscriber, or a change in the set of masters (checked every
//!   second: a failover, a new shard), flushes the L1 (changes may have been
//!   missed) and re-attaches to the current masters; when that fails the
//!   cluster connection is dropped and reconnected, as on a single server.
//!   The cluster connection serves reads meanwhile, whose invalidations may
//!   be lost until every master is attached: so the L1 is flushed again once
//!   they are, and its fence (`crate::cache::coherence`) refuses the values of reads
//!   that started before.
//! - Subscribers connect as a single server's connections do (`wire.rs`:
//!   the seeds' TLS and credentials).

use std::time::Duration;

use redis::cluster_async::ClusterConnection;
use tokio::task::JoinSet;

use super::topology::{self, Node};
use crate::backend::redis::tracking::{self, Invalidation, Subscriber, Tracking};
use crate::backend::redis::wire::{self, Dialer, Stream};
use crate::backend::{Event, EventSink};
use crate::error::{Error, Kind, Result};
use crate::resp::encode_command;
use crate::target::TlsOptions;

const TOPOLOGY_CHECK: Duration = Duration::from_secs(1);
/// How often an idle tracker PINGs, so no server `timeout` closes it.
const KEEPALIVE: Duration = Duration::from_secs(1);

pub struct Coherence {
  pub tracking: Tracking,
  /// The seeds' TLS and credentials.
  dialer: Dialer,
  timeout: Duration,
}

/// The subscribers of the current masters.
pub struct Subscribers {
  masters: Vec<Node>,
  /// One listener per master; each ends with the reason it stopped.
  listeners: JoinSet<Error>,
}

impl Coherence {
  pub fn new(
    tracking: Tracking,
    seeds: &[String],
    tls: Option<&TlsOptions>,
    timeout: Duration,
  ) -> Result<Self> {
    // The driver insists that every seed has the same credentials.
    let seed = seeds
      .first()
      .ok_or_else(|| Error::invalid("cluster: no seed node"))?;
    let (_, _, handshake) = wire::server_of(seed)?;
    Ok(Coherence {
      tracking,
      dialer: Dialer::new(tls, handshake, timeout)?,
      timeout,
    })
  }

  /// Subscribes to every current master. `None` when a server refuses
  /// tracking: the L1 then lives by its ttl, as an `error` event says.
  pub async fn attach(
    &self,
    conn: &mut ClusterConnection,
    events: &EventSink,
  ) -> Result<Option<Subscribers>> {
    let ttl_only = |why: &str| {
      let text = format!("L1 kept by ttl only: {why}");
      events(Event::Error(Error::new(Kind::Redis, text)));
    };
    let masters = topology::masters(conn).await?;
    let mut listeners = JoinSet::new();
    for (host, port) in &masters {
      match self.subscribe(host, *port).await {
        Ok((subscriber, tracker)) => {
          listeners.spawn(listen(subscriber, tracker));
        }
        Err(err) if err.kind() == Kind::Redis => {
          ttl_only(&format!("CLIENT TRACKING refused: {}", err.message()));
          return Ok(None);
        }
        Err(err) => return Err(err),
      }
    }
    Ok(Some(Subscribers { masters, listeners }))
  }

  /// One master's subscriber, and the tracker that redirects to it.
  async fn subscribe(&self, host: &str, port: u16) -> Result<(Subscriber, Stream)> {
    let mut tracker = self.dialer.open(host, port).await?;
    let subscriber = self
      .tracking
      .attach(&self.dialer, host, port, self.timeout, &mut tracker)
      .await?;
    Ok((subscriber, tracker))
  }

  /// Keeps the subscribers attached to the current masters; returns why the
  /// cluster connection should be dropped. Pending forever without subscribers.
  pub async fn keep(
    &self,
    mut subscribers: Option<Subscribers>,
    mut conn: ClusterConnection,
    events: &EventSink,
  ) -> Error {
    loop {
      let Some(subs) = subscribers.as_mut() else {
        return std::future::pending().await;
      };
      let changed = tokio::select! {
        // (An empty set, with no master serving slots, would answer at once.)
        _ = subs.listeners.join_next(), if !subs.listeners.is_empty() => true,
        _ = tokio::time::sleep(TOPOLOGY_CHECK) => match topology::masters(&mut conn).await {
          Ok(masters) => masters != subs.masters,
          Err(err) if err.kind() == Kind::Redis => false,
          Err(err) => return err,
        },
      };
      if changed {
        // Dropping the set stops every listener and closes its connection.
        drop(subscribers.take());
        (self.tracking.sink)(Invalidation::All);
        match self.attach(&mut conn, events).await {
          Ok(subs) => subscribers = subs,
          Err(err) => return err,
        }
        // Reads served while attaching may hold values whose invalidations were lost.
        (self.tracking.sink)(Invalidation::All);
      }
    }
  }
}

/// Returns why a master's invalidations can no longer be trusted: its
/// subscriber or its tracker was lost.
async fn listen(mut subscriber: Subscriber, tracker: Stream) -> Error {
  tokio::select! {
    why = tracking::lost(Some(&mut subscriber)) => why,
    why = hold(tracker) => why,
  }
}

/// Keeps a tracker open, PINGing it, and returns once it is lost: the
/// server stops tracking for its subscriber then, without a word.
async fn hold(mut tracker: Stream) -> Error {
  let mut ping = Vec::new();
  encode_command(&mut ping, &[b"PING".to_vec()]);
  let mut buf = Vec::with_capacity(64);
  let mut tick = tokio::time::interval(KEEPALIVE);
  tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
  loop {
    tokio::select! {
      read = tracker.read_buf(&mut buf) => match read {
        Ok(0) => return Error::unavailable("Redis closed the tracking connection"),
        // PONGs.
        Ok(_) => buf.clear(),
        Err(e) => return Error::from(e),
      },
      _ = tick.tick() => {
        if let Err(e) = tracker.write_all(&ping).await {
          return Error::from(e);
        }
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::backend::redis::tracking::fake;

  #[tokio::test]
  async fn each_master_is_subscribed_before_its_tracker_redirects_and_losing_the_tracker_is_losing_the_master(
  ) {
    let server = fake::Server::start().await;
    let (sink, mut heard) = fake::sink();
    let wait = Duration::from_secs(5);
    let coherence = Coherence {
      tracking: Tracking {
        prefix: Vec::new(),
        sink,
      },
      dialer: Dialer::new(None, Vec::new(), wait).expect("a dialer"),
      timeout: wait,
    };
    let (subscriber, tracker) = coherence
      .subscribe("127.0.0.1", server.port)
      .await
      .expect("subscribed");
    // The tracker is connection 0, the subscriber 1.
    assert_eq!(
      server.log(),
      [
        (1, "CLIENT ID".to_string()),
        (1, "SUBSCRIBE __redis__:invalidate".to_string()),
        (
          0,
          "CLIENT TRACKING ON REDIRECT 101 BCAST NOLOOP".to_string()
        ),
      ]
    );
    let first = tokio::time::timeout(wait, heard.recv())
      .await
      .expect("the first invalidation in time");
    assert_eq!(first, Some(Invalidation::Keys(vec![b"p:early".to_vec()])));

    let listening = tokio::spawn(listen(subscriber, tracker));
    server.hang_up(0);
    let why = tokio::time::timeout(wait, listening)
      .await
      .expect("stopped in time")
      .expect("the listener ran");
    assert_eq!(why.kind(), Kind::Unavailable);
  }
}
