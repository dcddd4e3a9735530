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
mod value;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use super::lifecycle::{self, Lifecycle, Link, Pool};
use super::redis::tracking::{Invalidation, Tracking};
use super::{Args, Backend, BoxFuture, EventSink, Reply};
use crate::error::{Error, Kind, Result};
use crate::target::TlsOptions;

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
  blocking_pool: Pool<ClusterConnection>,
  connect_timeout: Duration,
  command_timeout: Duration,
  conn: Mutex<Option<ClusterConnection>>,
  life: Lifecycle,
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
    if tls.is_some_and(|t| t.servername.is_some()) {
      // The driver checks each node's certificate against that node's own name.
      return Err(Error::invalid(
        "tls.servername is not supported with cluster",
      ));
    }
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
      Some(t) => Some(coherence::Coherence::new(t, seeds, tls, connect_timeout)?),
      None => None,
    };
    let shared = Arc::new(Shared {
      client: builder(Some(command_timeout))?,
      blocking_client: builder(None)?,
      blocking_pool: Pool::new(BLOCKING_POOL),
      connect_timeout,
      command_timeout,
      conn: Mutex::new(None),
      life: Lifecycle::new(events),
      coherence,
    });
    napi::bindgen_prelude::spawn(lifecycle::supervise(shared.clone()));
    Ok(ClusterBackend { shared })
  }
}

impl Shared {
  fn replace(&self, conn: Option<ClusterConnection>) {
    *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = conn;
  }

  /// The live connection, or why there is none.
  fn live(&self) -> Result<ClusterConnection> {
    if self.life.is_closed() {
      return Err(Error::closed());
    }
    let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner()).clone();
    conn.ok_or_else(|| Error::unavailable("not connected to the Redis Cluster"))
  }

  /// A new connection to the cluster, bounded by the connect timeout.
  async fn open(&self, client: &ClusterClient) -> Result<ClusterConnection> {
    match tokio::time::timeout(self.connect_timeout, client.get_async_connection()).await {
      Ok(Ok(conn)) => Ok(conn),
      Ok(Err(err)) => Err(unreachable_cluster(err)),
      Err(_) => Err(Error::unavailable(
        "connecting to the Redis Cluster timed out",
      )),
    }
  }
}

/// The cluster connection and, with L1 coherence, its subscribers.
type Connected = (ClusterConnection, Option<coherence::Subscribers>);

impl Link for Shared {
  type Conn = Connected;

  fn lifecycle(&self) -> &Lifecycle {
    &self.life
  }

  fn connect(&self) -> BoxFuture<'_, Result<Connected>> {
    Box::pin(async move {
      let mut conn = self.open(&self.client).await?;
      let subscribers = match &self.coherence {
        Some(c) => c.attach(&mut conn, &self.life.events).await?,
        None => None,
      };
      Ok((conn, subscribers))
    })
  }

  fn install(&self, (conn, _): &Connected) {
    self.replace(Some(conn.clone()));
  }

  /// The cluster stopped answering, or the subscribers could not be kept.
  fn watch(&self, (conn, subscribers): Connected) -> BoxFuture<'_, Error> {
    Box::pin(async move {
      match &self.coherence {
        Some(c) => tokio::select! {
          r = watch_cluster(conn.clone()) => r,
          r = c.keep(subscribers, conn, &self.life.events) => r,
        },
        None => watch_cluster(conn).await,
      }
    })
  }

  /// Everything in the L1 may have changed unseen.
  fn lost(&self) {
    self.replace(None);
    if let Some(c) = &self.coherence {
      (c.tracking.sink)(Invalidation::All);
    }
  }
}

/// Why no seed node led to a usable cluster (none reachable, none a cluster
/// node, credentials refused), as `ERR_UNAVAILABLE`, as a single server's
/// failed connection is.
fn unreachable_cluster(err: redis::RedisError) -> Error {
  let err = Error::from(err);
  match err.kind() {
    Kind::Redis | Kind::Timeout => Error::unavailable(format!(
      "no seed node of the Redis Cluster answered: {}",
      err.message()
    )),
    _ => err,
  }
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
    Box::pin(self.shared.life.first_connect())
  }

  fn exec(&self, cmds: Vec<Args>) -> BoxFuture<'_, Vec<Result<Reply>>> {
    Box::pin(async move {
      match self.shared.live() {
        Ok(conn) => exec::run(&conn, cmds).await,
        Err(err) => vec![Err(err); cmds.len()],
      }
    })
  }

  /// Every master's keyspace in turn; the driver splits each multi-key
  /// UNLINK per slot and sums the counts.
  fn delete_matching(&self, pattern: Vec<u8>, batch: usize) -> BoxFuture<'_, Result<u64>> {
    Box::pin(async move {
      let mut conn = self.shared.live()?;
      let mut deleted = 0u64;
      for (host, port) in topology::masters(&mut conn).await? {
        let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
        let on_node = |scan: Args| {
          let (mut conn, node) = (conn.clone(), node.clone());
          async move { exec::reply(conn.route_command(exec::command(&scan), node).await) }
        };
        deleted += super::scan_unlink(self, pattern.clone(), batch, on_node).await?;
      }
      Ok(deleted)
    })
  }

  fn exec_blocking(&self, args: Args, wait: Duration) -> BoxFuture<'_, Result<Reply>> {
    Box::pin(async move {
      let shared = &self.shared;
      shared.live()?;
      let mut conn = match shared.blocking_pool.take() {
        Some(conn) => conn,
        None => shared.open(&shared.blocking_client).await?,
      };
      let cmd = exec::command(&args);
      let limit = wait + shared.command_timeout;
      let reply = exec::reply(
        shared
          .life
          .bounded(limit, conn.req_packed_command(&cmd))
          .await?,
      );
      // A connection that failed is not kept.
      if !matches!(&reply, Err(e) if e.kind() != Kind::Redis) {
        // One more than the pool keeps is dropped, closing it.
        drop(shared.blocking_pool.give(conn));
      }
      reply
    })
  }

  fn close(&self) {
    self.shared.life.close();
    self.shared.replace(None);
    self.shared.blocking_pool.drain();
  }
}
