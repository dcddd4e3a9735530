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
//!   as the main connection), not a redis-rs PubSub: the parser of
//!   `resp/parse.rs` reads these messages as they are, and the supervisor in
//!   `redis.rs` owns the life of both connections together.
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
use crate::backend::{Args, Reply};
use crate::error::{Error, Result};
use crate::resp::{encode_command, Inbox, Parsed};

const CHANNEL: &[u8] = b"__redis__:invalidate";
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
  /// no task uses yet (a server's main connection, a cluster master's
  /// tracker). Whatever arrives with the SUBSCRIBE reply is kept for the
  /// listener: the first invalidations may come in the same read. A Redis
  /// error means the server refuses tracking (before Redis 6, a proxy, an
  /// ACL without `CLIENT`). The subscriber is opened within the dialer's
  /// connect timeout; `timeout` (the command timeout) bounds the setup's
  /// requests, then each heartbeat's answer.
  pub async fn attach(
    &self,
    dialer: &Dialer,
    host: &str,
    port: u16,
    timeout: Duration,
    main: &mut Stream,
  ) -> Result<Subscriber> {
    let mut stream = dialer.open(host, port).await?;
    // What the server sent after the SUBSCRIBE reply: the first invalidations.
    let mut unread = Inbox::new(4096);
    let setup = async {
      let id = stream.client_id().await?;
      // Subscribed before tracking starts: in RESP2 the server drops the
      // invalidations it redirects to a client that is not (yet) subscribed.
      stream
        .request_keeping(crate::args![b"SUBSCRIBE", CHANNEL], &mut unread)
        .await?;
      main.request(self.enable_command(id)).await?;
      Ok(())
    };
    tokio::time::timeout(timeout, setup)
      .await
      .unwrap_or_else(|_| Err(Error::unavailable("connecting to Redis timed out")))?;
    let (tx, stopped) = oneshot::channel();
    let sink = self.sink.clone();
    let task = napi::bindgen_prelude::spawn(async move {
      let _ = tx.send(listen(stream, unread, sink, timeout).await);
    });
    Ok(Subscriber { task, stopped })
  }

  /// `CLIENT TRACKING ON REDIRECT <id> BCAST [PREFIX <prefix>] NOLOOP`.
  fn enable_command(&self, redirect: i64) -> Args {
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

/// Reads messages, from those already in `inbox` on, and hands invalidations
/// to `sink`, PINGing every second; returns why the connection can no
/// longer be trusted.
async fn listen(
  mut stream: Stream,
  mut inbox: Inbox,
  sink: InvalidationSink,
  timeout: Duration,
) -> Error {
  let mut ping = Vec::new();
  encode_command(&mut ping, &[b"PING".to_vec()]);
  let mut heard = Instant::now();
  let mut tick = tokio::time::interval(HEARTBEAT);
  tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
  loop {
    loop {
      match inbox.next_reply() {
        Ok(Some(reply)) => {
          if let Some(invalidation) = invalidation(reply) {
            sink(invalidation);
          }
        }
        Ok(None) => break,
        Err(err) => return err,
      }
    }
    tokio::select! {
      read = stream.read_buf(inbox.for_read()) => match read {
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
      }
    }
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
    match crate::resp::parse_one(wire) {
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

  #[tokio::test]
  async fn subscribed_before_tracking_and_the_first_invalidation_is_kept() {
    let server = fake::Server::start().await;
    let (sink, mut heard) = fake::sink();
    let tracking = Tracking {
      prefix: b"p:".to_vec(),
      sink,
    };
    let wait = Duration::from_secs(5);
    let dialer = Dialer::new(None, Vec::new(), wait).expect("a dialer");
    let mut main = dialer
      .open("127.0.0.1", server.port)
      .await
      .expect("the main connection");
    let _subscriber = tracking
      .attach(&dialer, "127.0.0.1", server.port, wait, &mut main)
      .await
      .expect("attached");
    // Sent by the server in the same write as the SUBSCRIBE reply.
    let first = tokio::time::timeout(wait, heard.recv())
      .await
      .expect("the first invalidation in time");
    assert_eq!(first, Some(Invalidation::Keys(vec![b"p:early".to_vec()])));
    assert_eq!(
      server.log(),
      [
        (1, "CLIENT ID".to_string()),
        (1, "SUBSCRIBE __redis__:invalidate".to_string()),
        (
          0,
          "CLIENT TRACKING ON REDIRECT 101 BCAST PREFIX p: NOLOOP".to_string()
        ),
      ]
    );
  }
}

/// A stand-in Redis for the tracking handshake: logs each command but PING
/// with the number of its connection (from 0, in accept order), answers it,
/// and sends an invalidation of `p:early` in the same write as a SUBSCRIBE
/// reply, as a server may when a key changes right after.
#[cfg(test)]
pub(crate) mod fake {
  use std::sync::Mutex;

  use tokio::io::{AsyncReadExt, AsyncWriteExt};
  use tokio::net::{TcpListener, TcpStream};
  use tokio::sync::{broadcast, mpsc};

  use super::*;

  pub(crate) struct Server {
    pub port: u16,
    log: Arc<Mutex<Vec<(usize, String)>>>,
    hang_up: broadcast::Sender<usize>,
  }

  /// A sink that hands each invalidation to the receiver.
  pub(crate) fn sink() -> (InvalidationSink, mpsc::UnboundedReceiver<Invalidation>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(move |i| drop(tx.send(i))), rx)
  }

  impl Server {
    pub(crate) async fn start() -> Server {
      let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
      let port = listener.local_addr().expect("its address").port();
      let log = Arc::new(Mutex::new(Vec::new()));
      let hang_up = broadcast::channel(4).0;
      let (accept_log, accept_hang_up) = (log.clone(), hang_up.clone());
      tokio::spawn(async move {
        for n in 0.. {
          let Ok((socket, _)) = listener.accept().await else {
            return;
          };
          let (log, hang_up) = (accept_log.clone(), accept_hang_up.subscribe());
          tokio::spawn(serve(n, socket, log, hang_up));
        }
      });
      Server { port, log, hang_up }
    }

    pub(crate) fn log(&self) -> Vec<(usize, String)> {
      self.log.lock().expect("the log").clone()
    }

    /// Closes connection `n`.
    pub(crate) fn hang_up(&self, n: usize) {
      self.hang_up.send(n).expect("connection to hang up");
    }
  }

  async fn serve(
    n: usize,
    mut socket: TcpStream,
    log: Arc<Mutex<Vec<(usize, String)>>>,
    mut hang_up: broadcast::Receiver<usize>,
  ) {
    let mut buf = Vec::new();
    loop {
      tokio::select! {
        read = socket.read_buf(&mut buf) => if !matches!(read, Ok(len) if len > 0) {
          return;
        },
        which = hang_up.recv() => if which.ok() == Some(n) {
          return;
        } else {
          continue;
        },
      }
      while let Ok(Some((Ok(Reply::Array(args)), used))) = crate::resp::parse_one(&buf) {
        buf.drain(..used);
        let words: Vec<String> = args
          .iter()
          .map(|a| match a {
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
          })
          .collect();
        let command = words.join(" ");
        let answer = match command.as_str() {
          "PING" => b"+PONG\r\n".to_vec(),
          "CLIENT ID" => format!(":{}\r\n", 100 + n).into_bytes(),
          "SUBSCRIBE __redis__:invalidate" => [
            &b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"[..],
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$7\r\np:early\r\n",
          ]
          .concat(),
          _ => b"+OK\r\n".to_vec(),
        };
        if command != "PING" {
          log.lock().expect("the log").push((n, command));
        }
        if socket.write_all(&answer).await.is_err() {
          return;
        }
      }
    }
  }
}
