//! One pipelined connection to a Redis server: requests are written in
//! order, replies matched to them first in, first out.
//!
//! - JS batches are written to the socket from the JS thread itself
//!   (`try_write`), so a command costs no thread hop on its way out; only
//!   what the socket does not take at once is left to a writer task.
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

use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use super::{Args, Reply};
use crate::bridge::{Bridge, Decode, Done};
use crate::error::{Error, Kind, Result};
use crate::resp::{encode_command, parse_reply, Parsed};

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
  stream: TcpStream,
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
  pub fn start(stream: TcpStream, bridge: Arc<Bridge>, timeout: Duration) -> Arc<Pipe> {
    let pipe = Arc::new(Pipe {
      stream,
      state: Mutex::new(State::default()),
      bridge,
      timeout,
      write_wake: Notify::new(),
      busy: Notify::new(),
      lost: Notify::new(),
      tasks: Mutex::new(Vec::new()),
    });
    let reader = napi::bindgen_prelude::spawn(read_loop(pipe.clone()));
    let writer = napi::bindgen_prelude::spawn(write_loop(pipe.clone()));
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
    let mut payload = Vec::new();
    let mut receivers = Vec::with_capacity(cmds.len());
    let mut waiters = Vec::with_capacity(cmds.len());
    let deadline = Instant::now() + self.timeout;
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
    if state.writing || !state.outbox.is_empty() {
      state.outbox.extend_from_slice(payload);
    } else {
      // The socket is ours right now: write from this thread, no hop.
      let written =
        napi::bindgen_prelude::within_runtime_if_available(|| self.stream.try_write(payload));
      match written {
        Ok(n) if n == payload.len() => {}
        Ok(n) => state.outbox.extend_from_slice(&payload[n..]),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => state.outbox.extend_from_slice(payload),
        // The reader sees the failure too and fails every waiter.
        Err(_) => state.outbox.extend_from_slice(payload),
      }
      if !state.outbox.is_empty() {
        state.writing = true;
        self.write_wake.notify_one();
      }
    }
    drop(state);
    if was_idle {
      self.busy.notify_one();
    }
    Ok(())
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
async fn read_loop(pipe: Arc<Pipe>) {
  let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
  loop {
    let next = pipe.expire(Instant::now());
    let sleep = async {
      match next {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => pipe.busy.notified().await,
      }
    };
    tokio::select! {
      ready = pipe.stream.readable() => {
        if let Err(err) = ready {
          return pipe.fail(Error::from(redis::RedisError::from(err)));
        }
      }
      _ = sleep => continue,
    }
    if buf.capacity() - buf.len() < 16 * 1024 {
      buf.reserve(64 * 1024);
    }
    match pipe.stream.try_read_buf(&mut buf) {
      Ok(0) => return pipe.fail(Error::unavailable("Redis closed the connection")),
      Ok(_) => {}
      Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
      Err(e) => return pipe.fail(Error::from(redis::RedisError::from(e))),
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

/// Writes what the JS thread could not write at once, in order.
async fn write_loop(pipe: Arc<Pipe>) {
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
      let mut rest = &chunk[..];
      while !rest.is_empty() {
        if let Err(err) = pipe.stream.writable().await {
          return pipe.fail(Error::from(redis::RedisError::from(err)));
        }
        match pipe.stream.try_write(rest) {
          Ok(n) => rest = &rest[n..],
          Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
          Err(e) => return pipe.fail(Error::from(redis::RedisError::from(e))),
        }
      }
    }
  }
}

/// Opens a TCP connection and runs the handshake (AUTH, SELECT) on it.
pub async fn connect(
  host: &str,
  port: u16,
  handshake: &[Args],
  timeout: Duration,
) -> Result<TcpStream> {
  let attempt = async {
    let stream = TcpStream::connect((host, port))
      .await
      .map_err(|e| Error::from(redis::RedisError::from(e)))?;
    stream
      .set_nodelay(true)
      .map_err(|e| Error::from(redis::RedisError::from(e)))?;
    for args in handshake {
      let mut payload = Vec::new();
      encode_command(&mut payload, args);
      round_trip(&stream, &payload).await?;
    }
    Ok(stream)
  };
  tokio::time::timeout(timeout, attempt)
    .await
    .unwrap_or_else(|_| Err(Error::unavailable("connecting to Redis timed out")))
}

/// Writes all of `payload` to a stream no task writes to.
pub(super) async fn write_all(stream: &TcpStream, payload: &[u8]) -> Result<()> {
  let io_err = |e: io::Error| Error::from(redis::RedisError::from(e));
  let mut rest = payload;
  while !rest.is_empty() {
    stream.writable().await.map_err(io_err)?;
    match stream.try_write(rest) {
      Ok(n) => rest = &rest[n..],
      Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
      Err(e) => return Err(io_err(e)),
    }
  }
  Ok(())
}

/// One request and its reply, before the pipe's tasks take the stream over.
pub(super) async fn round_trip(stream: &TcpStream, payload: &[u8]) -> Result<Reply> {
  let io_err = |e: io::Error| Error::from(redis::RedisError::from(e));
  write_all(stream, payload).await?;
  let mut buf = Vec::with_capacity(512);
  loop {
    stream.readable().await.map_err(io_err)?;
    match stream.try_read_buf(&mut buf) {
      Ok(0) => return Err(Error::unavailable("Redis closed the connection")),
      Ok(_) => {}
      Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
      Err(e) => return Err(io_err(e)),
    }
    if let Some((reply, _)) = parse_reply(&buf)? {
      return reply;
    }
  }
}
