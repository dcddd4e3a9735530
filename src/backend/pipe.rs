//! One pipelined connection to a Redis server: requests are written in
//! order, replies matched to them first in, first out.
//!
//! - On plain TCP, JS batches are written to the socket from the JS thread
//!   itself (`try_write`), so a command costs no thread hop on its way out;
//!   only what the socket does not take at once is left to a writer task.
//!   Over TLS the writer task encrypts and writes everything (rustls' state
//!   belongs to one owner).
//! - A reader task parses replies as they stream in and completes a whole
//!   read's worth of JS requests with one bridge wake-up.
//! - Every request carries a deadline: the reader fails overdue requests with
//!   `ERR_TIMEOUT` (their late replies are then discarded in order).
//! - When the socket fails, every waiting request fails with
//!   `ERR_UNAVAILABLE` at once and `lost()` resolves.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

use super::wire::Stream;
use super::{Args, Reply};
use crate::bridge::{Bridge, Decode, Done};
use crate::error::{Error, Kind, Result};
use crate::resp::{encode_command, parse_reply, Parsed};

type TlsWriter = WriteHalf<TlsStream<TcpStream>>;
type Reader = Box<dyn AsyncRead + Send + Unpin>;

/// Where a reply goes.
enum Sink {
  Js(u32, Decode),
  Rust(oneshot::Sender<Parsed>),
  /// Timed out already: the reply is read and dropped.
  Gone,
}

struct Waiter {
  sink: Sink,
  deadline: Instant,
}

#[derive(Default)]
struct State {
  queue: VecDeque<Waiter>,
  /// Bytes the socket did not take yet; the writer task owns their order.
  outbox: Vec<u8>,
  writing: bool,
  dead: Option<Error>,
}

pub struct Pipe {
  /// Plain TCP: the socket's write side, for writes from the JS thread.
  /// `None` over TLS, where the writer task owns the write side.
  direct: Option<OwnedWriteHalf>,
  state: Mutex<State>,
  bridge: Arc<Bridge>,
  timeout: Duration,
  /// Wakes the writer when the outbox fills.
  write_wake: Notify,
  /// Wakes the reader when requests arrive on an idle connection (so it
  /// arms the timeout of the oldest one).
  busy: Notify,
  lost: Notify,
  tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Pipe {
  /// Starts the reader and writer tasks on an established, authenticated stream.
  pub fn start(stream: Stream, bridge: Arc<Bridge>, timeout: Duration) -> Arc<Pipe> {
    let (reader, direct, tls): (Reader, _, _) = match stream {
      Stream::Tcp(tcp) => {
        let (r, w) = tcp.into_split();
        (Box::new(r), Some(w), None)
      }
      Stream::Tls(tls) => {
        let (r, w) = tokio::io::split(*tls);
        (Box::new(r), None, Some(w))
      }
    };
    let pipe = Arc::new(Pipe {
      direct,
      state: Mutex::new(State::default()),
      bridge,
      timeout,
      write_wake: Notify::new(),
      busy: Notify::new(),
      lost: Notify::new(),
      tasks: Mutex::new(Vec::new()),
    });
    let reader = napi::bindgen_prelude::spawn(read_loop(pipe.clone(), reader));
    let writer = napi::bindgen_prelude::spawn(write_loop(pipe.clone(), tls));
    *pipe.tasks() = vec![reader, writer];
    pipe
  }

  fn state(&self) -> MutexGuard<'_, State> {
    self.state.lock().unwrap_or_else(|e| e.into_inner())
  }

  fn tasks(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
    self.tasks.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// Sends JS requests (already RESP-encoded); each completes under its id.
  pub fn send_js(&self, payload: &[u8], ids: Vec<u32>, decodes: Vec<Decode>) -> Result<()> {
    let deadline = Instant::now() + self.timeout;
    let waiters = ids.into_iter().zip(decodes).map(|(id, decode)| Waiter {
      sink: Sink::Js(id, decode),
      deadline,
    });
    self.send(payload, waiters)
  }

  /// Runs commands from Rust and awaits their replies.
  pub async fn exec(&self, cmds: Vec<Args>) -> Vec<Result<Reply>> {
    self.exec_within(cmds, self.timeout).await
  }

  /// `exec` with another reply bound (a blocking command's wait plus the timeout).
  pub async fn exec_within(&self, cmds: Vec<Args>, timeout: Duration) -> Vec<Result<Reply>> {
    let mut payload = Vec::new();
    let mut receivers = Vec::with_capacity(cmds.len());
    let mut waiters = Vec::with_capacity(cmds.len());
    let deadline = Instant::now() + timeout;
    for args in &cmds {
      encode_command(&mut payload, args);
      let (tx, rx) = oneshot::channel();
      receivers.push(rx);
      waiters.push(Waiter {
        sink: Sink::Rust(tx),
        deadline,
      });
    }
    if let Err(err) = self.send(&payload, waiters.into_iter()) {
      return vec![Err(err); cmds.len()];
    }
    let mut out = Vec::with_capacity(receivers.len());
    for rx in receivers {
      out.push(
        rx.await
          .unwrap_or_else(|_| Err(Error::unavailable("connection to Redis lost"))),
      );
    }
    out
  }

  fn send(&self, payload: &[u8], waiters: impl Iterator<Item = Waiter>) -> Result<()> {
    let mut state = self.state();
    if let Some(err) = &state.dead {
      return Err(err.clone());
    }
    let was_idle = state.queue.is_empty();
    state.queue.extend(waiters);
    let direct = self
      .direct
      .as_ref()
      .filter(|_| !state.writing && state.outbox.is_empty());
    if let Some(socket) = direct {
      // The socket is ours right now: write from this thread, no hop.
      let written =
        napi::bindgen_prelude::within_runtime_if_available(|| socket.try_write(payload));
      match written {
        Ok(n) if n == payload.len() => {}
        Ok(n) => state.outbox.extend_from_slice(&payload[n..]),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => state.outbox.extend_from_slice(payload),
        // The reader sees the failure too and fails every waiter.
        Err(_) => state.outbox.extend_from_slice(payload),
      }
    } else {
      state.outbox.extend_from_slice(payload);
    }
    if !state.outbox.is_empty() && !state.writing {
      state.writing = true;
      self.write_wake.notify_one();
    }
    drop(state);
    if was_idle {
      self.busy.notify_one();
    }
    Ok(())
  }

  /// Whether the connection has failed (or was shut down).
  pub fn is_dead(&self) -> bool {
    self.state().dead.is_some()
  }

  /// Resolves once the connection has failed.
  pub async fn lost(&self) {
    self.lost.notified().await
  }

  /// Fails every waiting request and stops the tasks.
  pub fn shutdown(&self, err: Error) {
    self.fail(err);
    for task in self.tasks().drain(..) {
      task.abort();
    }
  }

  fn fail(&self, err: Error) {
    let waiters = {
      let mut state = self.state();
      if state.dead.is_some() {
        return;
      }
      state.dead = Some(err.clone());
      state.outbox.clear();
      std::mem::take(&mut state.queue)
    };
    self.deliver(waiters.into_iter().map(|w| (w.sink, Err(err.clone()))));
    self.lost.notify_one();
  }

  /// Routes results: JS ones in one bridge call, Rust ones through their channels.
  fn deliver(&self, results: impl Iterator<Item = (Sink, Parsed)>) {
    let mut js = Vec::new();
    for (sink, result) in results {
      match sink {
        Sink::Js(id, decode) => js.push(match result {
          Ok(reply) => Done::Ok(id, reply, decode),
          Err(err) => Done::Err(id, err),
        }),
        Sink::Rust(tx) => {
          let _ = tx.send(result);
        }
        Sink::Gone => {}
      }
    }
    if !js.is_empty() {
      self.bridge.complete(js);
    }
  }

  /// Fails the requests whose deadline passed; returns the next deadline.
  fn expire(&self, now: Instant) -> Option<Instant> {
    let mut expired = Vec::new();
    let next = {
      let mut state = self.state();
      let mut next = None;
      for w in state.queue.iter_mut() {
        if matches!(w.sink, Sink::Gone) {
          continue;
        }
        if w.deadline > now {
          next = Some(w.deadline);
          break;
        }
        expired.push(std::mem::replace(&mut w.sink, Sink::Gone));
      }
      next
    };
    let err = Error::new(Kind::Timeout, "Redis did not answer in time");
    self.deliver(expired.into_iter().map(|sink| (sink, Err(err.clone()))));
    next
  }
}

/// Reads replies and hands each to the oldest waiter.
async fn read_loop(pipe: Arc<Pipe>, mut reader: Reader) {
  let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
  loop {
    let next = pipe.expire(Instant::now());
    let sleep = async {
      match next {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => pipe.busy.notified().await,
      }
    };
    if buf.capacity() - buf.len() < 16 * 1024 {
      buf.reserve(64 * 1024);
    }
    // `read_buf` is cancel-safe: a timer that wins loses no bytes.
    tokio::select! {
      read = reader.read_buf(&mut buf) => match read {
        Ok(0) => return pipe.fail(Error::unavailable("Redis closed the connection")),
        Ok(_) => {}
        Err(e) => return pipe.fail(Error::from(e)),
      },
      _ = sleep => continue,
    }
    let mut used = 0;
    let mut replies = Vec::new();
    loop {
      match parse_reply(&buf[used..]) {
        Ok(Some((reply, n))) => {
          used += n;
          replies.push(reply);
        }
        Ok(None) => break,
        Err(err) => return pipe.fail(err),
      }
    }
    buf.drain(..used);
    if replies.is_empty() {
      continue;
    }
    let sinks: Vec<Sink> = {
      let mut state = pipe.state();
      let n = replies.len().min(state.queue.len());
      state.queue.drain(..n).map(|w| w.sink).collect()
    };
    if sinks.len() < replies.len() {
      return pipe.fail(Error::unavailable("Redis sent a reply nobody asked for"));
    }
    pipe.deliver(sinks.into_iter().zip(replies));
  }
}

/// Writes what the JS thread could not write at once (over TLS: everything), in order.
async fn write_loop(pipe: Arc<Pipe>, mut tls: Option<TlsWriter>) {
  loop {
    pipe.write_wake.notified().await;
    loop {
      let chunk = {
        let mut state = pipe.state();
        if state.outbox.is_empty() {
          state.writing = false;
          break;
        }
        std::mem::take(&mut state.outbox)
      };
      let written = match (&mut tls, &pipe.direct) {
        (Some(tls), _) => write_tls(tls, &chunk).await,
        (None, Some(socket)) => write_direct(socket, &chunk).await,
        (None, None) => Err(io::Error::from(io::ErrorKind::NotConnected)),
      };
      if let Err(e) = written {
        return pipe.fail(Error::from(e));
      }
    }
  }
}

async fn write_tls(tls: &mut TlsWriter, bytes: &[u8]) -> io::Result<()> {
  tls.write_all(bytes).await?;
  tls.flush().await
}

/// Writes through the shared write side, which the JS thread may also use
/// (never at the same time: `State::writing` says who owns it).
async fn write_direct(socket: &OwnedWriteHalf, mut rest: &[u8]) -> io::Result<()> {
  while !rest.is_empty() {
    socket.writable().await?;
    match socket.try_write(rest) {
      Ok(n) => rest = &rest[n..],
      Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
      Err(e) => return Err(e),
    }
  }
  Ok(())
}
