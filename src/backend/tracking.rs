//! L1 coherence on a single Redis server: server-assisted client-side caching
//! (`CLIENT TRACKING`) in RESP2, through a connection of its own.
//!
//! - The subscriber connection runs `CLIENT ID` and `SUBSCRIBE
//!   __redis__:invalidate`; only then does the main connection, before it
//!   carries any command, enable tracking with `REDIRECT <that id>`. The
//!   server then sends every invalidation to the subscriber as a Pub/Sub
//!   message `["message", "__redis__:invalidate", [keys...]]`, or with nil
//!   instead of keys when everything may have changed (FLUSHALL, FLUSHDB).
//! - It is a plain connection (`wire::Dialer`, the same TLS, AUTH and SELECT
//!   as the main connection), not a redis-rs PubSub: the parser of `resp.rs` reads
//!   these messages as they are, and the supervisor in `redis.rs` owns the
//!   life of both connections together.
//! - Mode `BCAST PREFIX <keyPrefix> NOLOOP`, rather than the default mode:
//!   - The default mode tracks only keys *read* on the main connection. The
//!     L1 also holds values this client *wrote* (`cache.set`; a `getOrSet`
//!     miss stores the loader's value after its SET), whose keys a SET does
//!     not track: another instance's later write would go unnoticed unless
//!     every cache write read its key back in the same MULTI. And the server
//!     would remember every key the main connection reads (`get`, `mget`,
//!     scripts), most of which the L1 never holds, in a table shared by all
//!     clients and bounded by `tracking-table-max-keys`.
//!   - BCAST keeps no per-key state on the server and asks nothing of reads
//!     or writes. Its price: every change under the prefix reaches every
//!     instance, even of keys no L1 holds (rate-limit counters, queues).
//!     Redis batches them per event-loop turn; the subscriber drops keys its
//!     L1 lacks under one lock and wakes JS only when an entry left.
//!   - NOLOOP: this client's own writes already evict its L1 copy at once
//!     (`lib/client.js`); their echo would only cost traffic, and would evict
//!     the value `cache.set` has just stored. (`command()` writes evict
//!     nothing, as documented.)
//!   - Without a keyPrefix, BCAST covers every key of the server (tracking
//!     ignores database numbers).
//! - The subscriber PINGs every second. A subscriber that stops answering, or
//!   whose socket fails, is a lost connection: the supervisor flushes the L1
//!   and reconnects both connections, since invalidations may have been missed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::wire::{Dialer, Stream};
use super::{Args, Reply};
use crate::error::{Error, Result};
use crate::resp::{encode_command, parse_reply, Parsed};

pub(crate) const CHANNEL: &[u8] = b"__redis__:invalidate";
const HEARTBEAT: Duration = Duration::from_secs(1);

/// What the server reports as changed by other clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
  /// These keys, as the server names them (key prefix included).
  Keys(Vec<Vec<u8>>),
  /// Any key may have changed: a flush, or invalidations may have been missed.
  All,
}

/// Called from tokio threads, once per message.
pub type InvalidationSink = Arc<dyn Fn(Invalidation) + Send + Sync>;

/// How a client tracks: which keys, and where invalidations go.
pub struct Tracking {
  /// The client's keyPrefix; empty: every key.
  pub prefix: Vec<u8>,
  pub sink: InvalidationSink,
}

impl Tracking {
  /// Opens the subscriber, then enables tracking on `main`, a new connection
  /// no task uses yet. A Redis error means the server refuses tracking
  /// (before Redis 6, a proxy, an ACL without `CLIENT`). The subscriber is
  /// opened within the dialer's connect timeout; `timeout` (the command
  /// timeout) bounds the setup's requests, then each heartbeat's answer.
  pub async fn attach(
    &self,
    dialer: &Dialer,
    host: &str,
    port: u16,
    timeout: Duration,
    main: &mut Stream,
  ) -> Result<Subscriber> {
    let mut stream = dialer.open(host, port).await?;
    let setup = async {
      let id = stream.client_id().await?;
      stream.request(crate::args![b"SUBSCRIBE", CHANNEL]).await?;
      main.request(self.enable_command(id)).await?;
      Ok(())
    };
    tokio::time::timeout(timeout, setup)
      .await
      .unwrap_or_else(|_| Err(Error::unavailable("connecting to Redis timed out")))?;
    let (tx, stopped) = oneshot::channel();
    let sink = self.sink.clone();
    let task = napi::bindgen_prelude::spawn(async move {
      let _ = tx.send(listen(stream, sink, timeout).await);
    });
    Ok(Subscriber { task, stopped })
  }

  /// `CLIENT TRACKING ON REDIRECT <id> BCAST [PREFIX <prefix>] NOLOOP`.
  pub(crate) fn enable_command(&self, redirect: i64) -> Args {
    let mut cmd = crate::args![
      b"CLIENT",
      b"TRACKING",
      b"ON",
      b"REDIRECT",
      redirect.to_string(),
      b"BCAST"
    ];
    if !self.prefix.is_empty() {
      cmd.extend([b"PREFIX".to_vec(), self.prefix.clone()]);
    }
    cmd.push(b"NOLOOP".to_vec());
    cmd
  }
}

/// The running subscriber; dropping it closes its connection.
pub struct Subscriber {
  task: JoinHandle<()>,
  /// Why the listener stopped.
  stopped: oneshot::Receiver<Error>,
}

impl Drop for Subscriber {
  fn drop(&mut self) {
    self.task.abort();
  }
}

/// Resolves with the reason the subscriber stopped; never without one.
pub async fn lost(subscriber: Option<&mut Subscriber>) -> Error {
  match subscriber {
    Some(sub) => (&mut sub.stopped)
      .await
      .unwrap_or_else(|_| Error::unavailable("the invalidation connection stopped")),
    None => std::future::pending().await,
  }
}

/// Reads messages and hands invalidations to `sink`, PINGing every second;
/// returns why the connection can no longer be trusted.
pub(crate) async fn listen(mut stream: Stream, sink: InvalidationSink, timeout: Duration) -> Error {
  let mut ping = Vec::new();
  encode_command(&mut ping, &[b"PING".to_vec()]);
  let mut buf = Vec::with_capacity(4096);
  let mut heard = Instant::now();
  let mut tick = tokio::time::interval(HEARTBEAT);
  tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
  loop {
    tokio::select! {
      read = stream.read_buf(&mut buf) => match read {
        Ok(0) => return Error::unavailable("Redis closed the invalidation connection"),
        Ok(_) => heard = Instant::now(),
        Err(e) => return Error::from(e),
      },
      _ = tick.tick() => {
        if heard.elapsed() > HEARTBEAT + timeout {
          return Error::unavailable("the invalidation connection stopped answering");
        }
        // A peer that stops reading must not hold the heartbeat either.
        match tokio::time::timeout(timeout, stream.write_all(&ping)).await {
          Ok(Ok(())) => {}
          Ok(Err(e)) => return Error::from(e),
          Err(_) => return Error::unavailable("the invalidation connection stopped answering"),
        }
        continue;
      }
    }
    let mut used = 0;
    loop {
      match parse_reply(&buf[used..]) {
        Ok(Some((reply, n))) => {
          used += n;
          if let Some(invalidation) = invalidation(reply) {
            sink(invalidation);
          }
        }
        Ok(None) => break,
        Err(err) => return err,
      }
    }
    buf.drain(..used);
  }
}

/// The invalidation a message carries; `None` for anything else (PING replies).
fn invalidation(reply: Parsed) -> Option<Invalidation> {
  let Ok(Reply::Array(mut parts)) = reply else {
    return None;
  };
  if parts.len() != 3 || parts[0] != Reply::Bulk(b"message".to_vec()) {
    return None;
  }
  match parts.pop()? {
    Reply::Array(keys) => Some(Invalidation::Keys(
      keys
        .into_iter()
        .filter_map(|k| match k {
          Reply::Bulk(key) => Some(key),
          _ => None,
        })
        .collect(),
    )),
    Reply::Nil => Some(Invalidation::All),
    _ => None,
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
  }

  fn parsed(wire: &[u8]) -> Parsed {
    match parse_reply(wire) {
      Ok(Some((reply, n))) if n == wire.len() => reply,
      other => panic!("not one whole reply: {other:?}"),
    }
  }

  #[test]
  fn messages_carry_keys_or_a_flush() {
    let keys = parsed(
      b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$3\r\np:a\r\n$3\r\np:b\r\n",
    );
    assert_eq!(
      invalidation(keys),
      Some(Invalidation::Keys(vec![b"p:a".to_vec(), b"p:b".to_vec()]))
    );
    // FLUSHALL: a nil bulk string where the keys would be.
    let flush = parsed(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n");
    assert_eq!(invalidation(flush), Some(Invalidation::All));
  }

  #[test]
  fn other_replies_are_ignored() {
    assert_eq!(
      invalidation(parsed(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")),
      None
    );
    let subscribed = Ok(Reply::Array(vec![
      bulk("subscribe"),
      bulk("__redis__:invalidate"),
      Reply::Int(1),
    ]));
    assert_eq!(invalidation(subscribed), None);
    assert_eq!(invalidation(Err(Error::unavailable("x"))), None);
  }

  #[test]
  fn tracking_is_broadcast_under_the_prefix_without_echo() {
    let sink: InvalidationSink = Arc::new(|_| {});
    let with = Tracking {
      prefix: b"app:".to_vec(),
      sink: sink.clone(),
    };
    let text = |args: Args| {
      args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
    };
    assert_eq!(
      text(with.enable_command(7)),
      "CLIENT TRACKING ON REDIRECT 7 BCAST PREFIX app: NOLOOP"
    );
    let without = Tracking {
      prefix: Vec::new(),
      sink,
    };
    assert_eq!(
      text(without.enable_command(7)),
      "CLIENT TRACKING ON REDIRECT 7 BCAST NOLOOP"
    );
  }
}
