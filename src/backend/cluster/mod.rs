//! Redis Cluster through redis-rs' `cluster_async` driver, which routes every
//! keyed command by slot and follows MOVED/ASK and failovers by itself.
//!
//! - The same outward behaviour as the single server (`redis.rs`): a
//!   supervisor connects, checks the cluster with a PING every second and
//!   reconnects with the same backoff and events; while it has no connection
//!   every command fails at once with `ERR_UNAVAILABLE` (nothing is queued).
//! - The driver retries a few times with short waits and every command is
//!   bounded by the command timeout as a whole, so an unreachable node fails
//!   its commands rather than holding them.
//! - Batches: see `exec.rs`; SCAN of every master: `delete_matching`;
//!   L1 coherence per master: `coherence.rs`.
//! - Blocking commands use connections of their own without response timeout.

mod coherence;
mod exec;
mod topology;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use tokio::sync::watch;

use super::redis::{backoff_ms, split_scan};
use super::tracking::{Invalidation, Tracking};
use super::{Args, Backend, BoxFuture, Event, EventSink, Health, Reply};
use crate::config::TlsOptions;
use crate::error::{Error, Kind, Result};

const HEARTBEAT: Duration = Duration::from_secs(1);
/// Attempts of the driver on a connection error or a redirection.
const RETRIES: u32 = 3;
/// Idle connections kept for blocking commands.
const BLOCKING_POOL: usize = 4;

pub struct ClusterBackend {
  shared: Arc<Shared>,
}

struct Shared {
  client: ClusterClient,
  /// The same cluster without response timeout: blocking commands bound their own wait.
  blocking_client: ClusterClient,
  blocking_pool: Mutex<Vec<ClusterConnection>>,
  connect_timeout: Duration,
  command_timeout: Duration,
  conn: Mutex<Option<ClusterConnection>>,
  health: AtomicU8,
  /// `true` once closed; the supervisor and waiters watch it.
  closed: watch::Sender<bool>,
  /// The outcome of the first connection attempt, once known.
  first: watch::Sender<Option<Result<()>>>,
  events: EventSink,
  coherence: Option<coherence::Coherence>,
}

impl ClusterBackend {
  /// Starts connecting in the background; never blocks.
  pub fn start(
    seeds: &[String],
    tls: Option<&TlsOptions>,
    connect_timeout: Duration,
    command_timeout: Duration,
    events: EventSink,
    tracking: Option<Tracking>,
  ) -> Result<Self> {
    let builder = |response_timeout: Option<Duration>| -> Result<ClusterClient> {
      let mut b = ClusterClientBuilder::new(seeds.iter().map(String::as_str))
        .connection_timeout(connect_timeout)
        .retries(RETRIES)
        .min_retry_wait(50)
        .max_retry_wait(500)
        .overall_response_timeout(response_timeout);
      if let Some(t) = response_timeout {
        b = b.response_timeout(t);
      }
      if let Some(tls) = tls {
        // Both rustls providers may be compiled in: name ours once; another
        // install (ours earlier, or the app's) is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        b = b.tls(redis::TlsMode::Secure);
        if let Some(ca) = &tls.ca {
          b = b.certs(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.as_bytes().to_vec()),
          });
        }
      }
      b.build().map_err(|e| {
        Error::invalid(format!(
          "cluster: {}",
          e.detail().unwrap_or("bad seed URLs")
        ))
      })
    };
    let coherence = match tracking {
      Some(t) => Some(coherence::Coherence::new(
        t,
        seeds,
        tls.is_some(),
        connect_timeout,
      )?),
      None => None,
    };
    let shared = Arc::new(Shared {
      client: builder(Some(command_timeout))?,
      blocking_client: builder(None)?,
      blocking_pool: Mutex::new(Vec::new()),
      connect_timeout,
      command_timeout,
      conn: Mutex::new(None),
      health: AtomicU8::new(Health::Connecting as u8),
      closed: watch::channel(false).0,
      first: watch::channel(None).0,
      events,
      coherence,
    });
    napi::bindgen_prelude::spawn(supervise(shared.clone()));
    Ok(ClusterBackend { shared })
  }
}

impl Shared {
  fn set_health(&self, health: Health) {
    self.health.store(health as u8, Ordering::Release);
  }

  fn current(&self) -> Option<ClusterConnection> {
    self.conn.lock().unwrap_or_else(|e| e.into_inner()).clone()
  }

  fn replace(&self, conn: Option<ClusterConnection>) {
    *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = conn;
  }

  fn is_closed(&self) -> bool {
    *self.closed.borrow()
  }

  /// The live connection, or why there is none.
  fn live(&self) -> Result<ClusterConnection> {
    if self.is_closed() {
      return Err(Error::closed());
    }
    self
      .current()
      .ok_or_else(|| Error::unavailable("not connected to the Redis Cluster"))
  }

  /// A connection to the cluster and, with L1 coherence, its subscribers.
  async fn connect(&self) -> Result<(ClusterConnection, Option<coherence::Subscribers>)> {
    let connecting = self.client.get_async_connection();
    let mut conn = match tokio::time::timeout(self.connect_timeout, connecting).await {
      Ok(Ok(conn)) => conn,
      Ok(Err(err)) => return Err(unreachable_cluster(err)),
      Err(_) => {
        return Err(Error::unavailable(
          "connecting to the Redis Cluster timed out",
        ))
      }
    };
    let subscribers = match &self.coherence {
      Some(c) => c.attach(&mut conn, &self.events).await?,
      None => None,
    };
    Ok((conn, subscribers))
  }

  /// Everything in the L1 may have changed unseen.
  fn flush_l1(&self) {
    if let Some(c) = &self.coherence {
      (c.tracking.sink)(Invalidation::All);
    }
  }

  /// Returns why the connection should be dropped: the cluster stopped
  /// answering, or the subscribers could not be kept.
  async fn watch(
    &self,
    conn: ClusterConnection,
    subscribers: Option<coherence::Subscribers>,
  ) -> Error {
    match &self.coherence {
      Some(c) => tokio::select! {
        r = watch_cluster(conn.clone()) => r,
        r = c.keep(subscribers, conn, &self.events) => r,
      },
      None => watch_cluster(conn).await,
    }
  }
}

/// Why no seed node led to a usable cluster, as `ERR_UNAVAILABLE` (a refused
/// password is `ERR_REDIS`).
fn unreachable_cluster(err: redis::RedisError) -> Error {
  let err = Error::from(err);
  match err.kind() {
    Kind::Redis if !err.message().contains("AUTH") && !err.message().contains("WRONGPASS") => {
      Error::unavailable(format!(
        "no seed node of the Redis Cluster answered: {}",
        err.message()
      ))
    }
    Kind::Timeout => Error::unavailable(err.message()),
    _ => err,
  }
}

/// Connects, watches the cluster, and reconnects with backoff until closed.
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
      Ok((conn, subscribers)) => {
        attempt = 0;
        shared.replace(Some(conn.clone()));
        shared.set_health(Health::Ready);
        (shared.events)(Event::Ready);
        let reason = tokio::select! {
          r = shared.watch(conn, subscribers) => r,
          _ = closed.wait_for(|c| *c) => break,
        };
        shared.replace(None);
        shared.flush_l1();
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
  shared.flush_l1();
  shared.set_health(Health::Closed);
  (shared.events)(Event::End);
}

/// Returns why the cluster is no longer usable: a PING to a node failed
/// other than with a server error.
async fn watch_cluster(mut conn: ClusterConnection) -> Error {
  loop {
    tokio::time::sleep(HEARTBEAT).await;
    let ping = conn
      .route_command(
        redis::cmd("PING"),
        RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
      )
      .await;
    if let Err(err) = ping {
      let err = Error::from(err);
      if err.kind() != Kind::Redis {
        return err;
      }
    }
  }
}

impl Backend for ClusterBackend {
  fn name(&self) -> &'static str {
    "cluster"
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
      match self.shared.live() {
        Ok(conn) => exec::run(&conn, cmds).await,
        Err(err) => vec![Err(err); cmds.len()],
      }
    })
  }

  fn delete_matching(&self, pattern: Vec<u8>, batch: usize) -> BoxFuture<'_, Result<u64>> {
    Box::pin(async move {
      let mut conn = self.shared.live()?;
      let count = batch.to_string();
      let mut deleted = 0u64;
      for (host, port) in topology::masters(&mut conn).await? {
        let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
        let mut cursor = b"0".to_vec();
        loop {
          let scan = exec::command(&crate::args![
            b"SCAN", cursor, b"MATCH", pattern, b"COUNT", count
          ]);
          let reply = exec::reply(conn.route_command(scan, node.clone()).await)?;
          let (next, keys) = split_scan(reply)?;
          if !keys.is_empty() {
            // The driver splits a multi-key UNLINK per slot and sums the counts.
            let mut unlink = vec![b"UNLINK".to_vec()];
            unlink.extend(keys);
            let n = super::exec_one(self, unlink).await?;
            deleted += n.as_int().unwrap_or(0).max(0) as u64;
          }
          if next == b"0" {
            break;
          }
          cursor = next;
        }
      }
      Ok(deleted)
    })
  }

  fn exec_blocking(&self, args: Args, wait: Duration) -> BoxFuture<'_, Result<Reply>> {
    Box::pin(async move {
      let shared = &self.shared;
      shared.live()?;
      let pooled = shared
        .blocking_pool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop();
      let mut conn = match pooled {
        Some(conn) => conn,
        None => {
          let connecting = shared.blocking_client.get_async_connection();
          match tokio::time::timeout(shared.connect_timeout, connecting).await {
            Ok(conn) => conn.map_err(Error::from)?,
            Err(_) => {
              return Err(Error::unavailable(
                "connecting to the Redis Cluster timed out",
              ))
            }
          }
        }
      };
      let mut closed = shared.closed.subscribe();
      let cmd = exec::command(&args);
      let outcome = tokio::select! {
        r = tokio::time::timeout(wait + shared.command_timeout, conn.req_packed_command(&cmd)) => r,
        _ = closed.wait_for(|c| *c) => return Err(Error::closed()),
      };
      match outcome {
        Err(_) => Err(Error::new(Kind::Timeout, "blocking command timed out")),
        Ok(result) => {
          let reply = exec::reply(result);
          if !matches!(&reply, Err(e) if e.kind() != Kind::Redis) {
            let mut pool = shared
              .blocking_pool
              .lock()
              .unwrap_or_else(|e| e.into_inner());
            if pool.len() < BLOCKING_POOL {
              pool.push(conn);
            }
          }
          reply
        }
      }
    })
  }

  fn health(&self) -> Health {
    Health::from_u8(self.shared.health.load(Ordering::Acquire))
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
