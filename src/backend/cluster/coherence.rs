//! L1 coherence on a cluster: one invalidation subscriber per master.
//!
//! - The driver owns the data connections and opens them as it likes, so
//!   they cannot be told where to redirect invalidations. Instead each
//!   master gets a plain connection of ours that runs `CLIENT ID`, `CLIENT
//!   TRACKING ON REDIRECT <its own id> BCAST [PREFIX <keyPrefix>]` and
//!   `SUBSCRIBE __redis__:invalidate`: BCAST reports every change under the
//!   prefix on that master to it, as Pub/Sub messages `tracking.rs` parses.
//! - NOLOOP cannot help here (it only skips the tracking connection's own
//!   writes, and this one writes nothing): this client's own writes come
//!   back as invalidations too and evict its own L1 copies, so a value it
//!   has just written is read again from Redis once.
//! - Losing a subscriber, or a change in the set of masters (checked every
//!   second: a failover, a new shard), flushes the L1 (changes may have been
//!   missed) and re-attaches to the current masters; when that fails the
//!   cluster connection is dropped and reconnected, as on a single server.
//! - Subscribers connect as a single server's connections do (`wire.rs`:
//!   the seeds' TLS and credentials).

use std::time::Duration;

use redis::cluster_async::ClusterConnection;
use tokio::task::JoinSet;

use super::topology::{self, Node};
use crate::backend::tracking::{self, Invalidation, Tracking};
use crate::backend::wire::{self, Dialer, Stream};
use crate::backend::{Event, EventSink};
use crate::config::TlsOptions;
use crate::error::{Error, Kind, Result};

const TOPOLOGY_CHECK: Duration = Duration::from_secs(1);

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
        Ok(stream) => {
          let (sink, timeout) = (self.tracking.sink.clone(), self.timeout);
          listeners.spawn(async move { tracking::listen(stream, sink, timeout).await });
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

  /// A connection to one master that receives its own invalidations.
  async fn subscribe(&self, host: &str, port: u16) -> Result<Stream> {
    let mut stream = self.dialer.open(host, port).await?;
    let setup = async {
      let id = stream.client_id().await?;
      stream.request(self.tracking.enable_command(id)).await?;
      stream
        .request(crate::args![b"SUBSCRIBE", tracking::CHANNEL])
        .await
    };
    tokio::time::timeout(self.timeout, setup)
      .await
      .unwrap_or_else(|_| Err(Error::unavailable("connecting to a cluster node timed out")))?;
    Ok(stream)
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
      }
    }
  }
}
