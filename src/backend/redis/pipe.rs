//! One pipelined connection to a Redis server: requests are written in
//! order, replies matched to them first in, first out.
//!
//! - On plain TCP, JS batches are written to the socket from the JS thread
//!   itself (`try_write`), so a command costs no thread hop on its way out;
//!   only what the socket does not take at once is left to a writer task.
//!   Over TLS the writer task encrypts and writes everything (rustls' state
//!   belongs to one owner).
//! - Replies are parsed as they stream in, a whole read's worth of JS
//!   requests completed at once. On plain TCP under Unix the JS thread reads
//!   them itself once it has written to the connection (`event_loop.rs`:
//!   one thread wake-up per reply instead of two); the tokio task then only
//!   steps in for replies JS leaves waiting (a busy JS thread must not starve
//!   the heartbeat). Otherwise a tokio task reads and wakes JS through the
//!   bridge.
//! - Every request carries a deadline: the reader fails overdue requests with
//!   `ERR_TIMEOUT` (their late replies are then discarded in order).
//! - When the socket fails, every waiting request fails with
//!   `ERR_UNAVAILABLE` at once and `lost()` resolves.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

use super::socket::{self, Socket, SocketReader};
use super::wire::Stream;
use crate::backend::{Args, Completions, Decode, Done, Reply};
use crate::error::{Error, Kind, Result};
use crate::resp::{encode_command, Inbox, Parsed};

type TlsWriter = WriteHalf<TlsStream<TcpStream>>;
type TlsReader = ReadHalf<TlsStream<TcpStream>>;

/// How long replies may wait for a JS thread that reads them before the
/// tokio task reads them instead.
const JS_GRACE: Duration = Duration::from_millis(50);

/// The inbox's capacity, which it shrinks back to after a large reply.
const INBOX: usize = 64 * 1024;

/// Who reads, and so how: the tokio task through its watch on the socket
/// (whose readiness a read must clear), the others straight from the
/// socket, so they never wait for tokio's reactor to have seen the data.
#[derive(Clone, Copy)]
enum Reader<'a> {
  Tokio(&'a SocketReader),
  /// On the JS thread, which drains right after (Unix only: `event_loop.rs`).
  #[cfg_attr(not(unix), allow(dead_code))]
  Js,
  /// The tokio task, for replies JS left waiting.
  Watchdog,
}

/// What a read on the JS thread produced.
pub enum Read {
  Nothing,
  /// JS results are in the bridge: JS should drain now.
  ForJs,
  /// The connection is over.
  Ended,
}

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
  /// Plain TCP: the socket, written from the JS thread and read under
  /// `inbox`'s lock by the tokio task or the JS thread. `None` over TLS,
  /// where the tasks own the stream's halves.
  tcp: Option<Socket>,
  /// Bytes read and not parsed yet, and the reply they begin.
  inbox: Mutex<Inbox>,
  /// The JS thread reads replies (`event_loop.rs`).
  js_reads: AtomicBool,
  /// When JS last read, in ms since `born`.
  js_read_at: AtomicU64,
  born: Instant,
  state: Mutex<State>,
  /// Where JS results go (the bridge): one call per batch.
  completions: Arc<dyn Completions>,
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
  pub fn start(
    stream: Stream,
    completions: Arc<dyn Completions>,
    timeout: Duration,
  ) -> Result<Arc<Pipe>> {
    let (tcp, watch, tls_read, tls_write) = match stream {
      Stream::Tcp(tcp) => match socket::split(tcp) {
        Ok((socket, watch)) => (Some(socket), Some(watch), None, None),
        Err(err) => return Err(Error::from(err)),
      },
      Stream::Tls(tls) => {
        let (r, w) = tokio::io::split(*tls);
        (None, None, Some(r), Some(w))
      }
    };
    let pipe = Arc::new(Pipe {
      tcp,
      inbox: Mutex::new(Inbox::new(INBOX)),
      js_reads: AtomicBool::new(false),
      js_read_at: AtomicU64::new(0),
      born: Instant::now(),
      state: Mutex::new(State::default()),
      completions,
      timeout,
      write_wake: Notify::new(),
      busy: Notify::new(),
      lost: Notify::new(),
      tasks: Mutex::new(Vec::new()),
    });
    let reader = match (tls_read, watch) {
      (Some(tls), _) => napi::bindgen_prelude::spawn(read_tls(pipe.clone(), tls)),
      (None, Some(watch)) => napi::bindgen_prelude::spawn(read_tcp(pipe.clone(), watch)),
      (None, None) => return Ok(pipe),
    };
    let writer = napi::bindgen_prelude::spawn(write_loop(pipe.clone(), tls_write));
    *pipe.tasks() = vec![reader, writer];
    Ok(pipe)
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
      .tcp
      .as_ref()
      .filter(|_| !state.writing && state.outbox.is_empty());
    if let Some(socket) = direct {
      // The socket is ours right now: write from this thread, no hop.
      let written = socket.try_send(payload);
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

  /// Fails every waiting request and stops the tasks. The socket is shut
  /// down too, which wakes an event-loop reader so it lets go of it.
  pub fn shutdown(&self, err: Error) {
    self.fail(err);
    if let Some(socket) = &self.tcp {
      socket.shutdown();
    }
    for task in self.tasks().drain(..) {
      task.abort();
    }
  }

  /// The socket's descriptor, for an event-loop reader (plain TCP only).
  #[cfg(unix)]
  pub fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
    self.tcp.as_ref().map(Socket::raw_fd)
  }

  #[cfg(unix)]
  /// Hands reading to the JS thread, once its event-loop handle is
  /// watching the socket; the read task then stops watching it.
  pub fn begin_js_reads(&self) {
    self.note_js_read();
    self.js_reads.store(true, Ordering::Release);
    self.busy.notify_one();
  }

  #[cfg(unix)]
  /// The JS thread stopped reading (its handle closed). The read task, which
  /// no longer watches the socket, then ends a connection still alive.
  pub fn end_js_reads(&self) {
    self.js_reads.store(false, Ordering::Release);
    self.busy.notify_one();
  }

  pub fn js_reads(&self) -> bool {
    self.js_reads.load(Ordering::Acquire)
  }

  #[cfg(unix)]
  fn note_js_read(&self) {
    let now = self.born.elapsed().as_millis() as u64;
    self.js_read_at.store(now, Ordering::Relaxed);
  }

  /// Whether JS has not read for `JS_GRACE` while replies may be waiting.
  fn js_late(&self) -> bool {
    let last = Duration::from_millis(self.js_read_at.load(Ordering::Relaxed));
    self.born.elapsed().saturating_sub(last) >= JS_GRACE && !self.state().queue.is_empty()
  }

  #[cfg(unix)]
  /// Reads what the socket holds, on the JS thread: JS results go to the
  /// bridge without a threadsafe-function wake-up (the caller drains).
  pub fn read_now(&self) -> Read {
    self.note_js_read();
    self.read_available(Reader::Js)
  }

  /// Reads until the socket would block and dispatches the replies.
  fn read_available(&self, reader: Reader<'_>) -> Read {
    let Some(socket) = &self.tcp else {
      return Read::Ended;
    };
    let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
    let mut got = false;
    loop {
      let buf = inbox.for_read();
      let room = buf.capacity() - buf.len();
      let read = match reader {
        Reader::Tokio(watch) => watch.try_recv(buf),
        Reader::Js | Reader::Watchdog => socket.recv_now(buf),
      };
      let err = match read {
        Ok(0) => Error::unavailable("Redis closed the connection"),
        // A short direct read emptied the socket: no second `recv` just to
        // hear EAGAIN (the event loop reports more data if some comes).
        Ok(n) if n < room && !matches!(reader, Reader::Tokio(_)) => {
          got = true;
          break;
        }
        Ok(_) => {
          got = true;
          continue;
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
        Err(e) => Error::from(e),
      };
      drop(inbox);
      self.fail(err);
      return Read::Ended;
    }
    if !got {
      return if self.is_dead() {
        Read::Ended
      } else {
        Read::Nothing
      };
    }
    match self.dispatch(&mut inbox, !matches!(reader, Reader::Js)) {
      Ok(true) => Read::ForJs,
      Ok(false) => Read::Nothing,
      Err(err) => {
        drop(inbox);
        self.fail(err);
        Read::Ended
      }
    }
  }

  /// Parses the replies `inbox` completes and hands each to the oldest
  /// waiter; returns whether JS results were delivered.
  fn dispatch(&self, inbox: &mut Inbox, wake_js: bool) -> Result<bool> {
    let mut replies = Vec::new();
    while let Some(reply) = inbox.next_reply()? {
      replies.push(reply);
    }
    if replies.is_empty() {
      return Ok(false);
    }
    let sinks: Vec<Sink> = {
      let mut state = self.state();
      if state.queue.len() < replies.len() {
        // Replies and requests no longer pair up: none is handed out, and
        // the caller's `fail` fails every waiter (none is left unanswered).
        return Err(Error::unavailable("Redis sent a reply nobody asked for"));
      }
      state.queue.drain(..replies.len()).map(|w| w.sink).collect()
    };
    Ok(self.deliver(sinks.into_iter().zip(replies), wake_js))
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
    self.deliver(
      waiters.into_iter().map(|w| (w.sink, Err(err.clone()))),
      true,
    );
    self.lost.notify_one();
  }

  /// Routes results: JS ones in one `Completions` call (waking JS through the
  /// threadsafe function if `wake_js`), Rust ones through their channels.
  /// Returns whether there were JS ones.
  fn deliver(&self, results: impl Iterator<Item = (Sink, Parsed)>, wake_js: bool) -> bool {
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
    if js.is_empty() {
      return false;
    }
    if wake_js {
      self.completions.complete(js);
    } else {
      self.completions.complete_quiet(js);
    }
    true
  }

  /// Fails the requests whose deadline passed; returns the next deadline.
  ///
  /// An expired request keeps its place in the queue as a tombstone
  /// (`Sink::Gone`): the server still answers it, in order, and that late
  /// reply is matched to the tombstone and dropped, so it can never reach a
  /// later request. (A connection that stays silent is dropped by the
  /// supervisor's heartbeat, which fails its tombstones' successors too.)
  /// Deadlines follow queue order (a pipe's requests share one timeout; a
  /// blocking command's longer one is alone on its connection), so the scan
  /// stops at the first one still running.
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
    self.deliver(
      expired.into_iter().map(|sink| (sink, Err(err.clone()))),
      true,
    );
    next
  }
}

/// Waits for the oldest request's deadline, or for a request on an idle
/// connection (which the sender announces).
async fn until_due(pipe: &Pipe, next: Option<Instant>) {
  match next {
    Some(at) => tokio::time::sleep_until(at.into()).await,
    None => pipe.busy.notified().await,
  }
}

/// Reads plain TCP replies, and expires overdue requests. Once the JS
/// thread reads, stops watching the socket and only steps in, every
/// `JS_GRACE` while requests wait, for replies JS leaves waiting.
async fn read_tcp(pipe: Arc<Pipe>, watch: SocketReader) {
  let mut watch = Some(watch);
  loop {
    let now = Instant::now();
    let next = pipe.expire(now);
    if pipe.is_dead() {
      return;
    }
    if pipe.js_reads() {
      watch = None;
      // A tick while requests wait, so that a request costs no wake-up
      // here (timeouts are then checked to within `JS_GRACE`); parked on
      // `busy` while idle.
      let waiting = !pipe.state().queue.is_empty();
      let check = waiting.then(|| next.map_or(now + JS_GRACE, |at| at.min(now + JS_GRACE)));
      until_due(&pipe, check).await;
      if pipe.js_late() {
        pipe.read_available(Reader::Watchdog);
      }
      continue;
    }
    let Some(w) = &watch else {
      // The JS thread let go of a live connection (its env ended): nobody
      // reads it any more, so it is lost; the supervisor opens another.
      return pipe.fail(Error::unavailable("the event-loop reader stopped"));
    };
    tokio::select! {
      read = w.on_readable(|| pipe.read_available(Reader::Tokio(w))) => match read {
        Ok(Read::Ended) => return,
        Ok(_) => {}
        Err(err) => return pipe.fail(Error::from(err)),
      },
      _ = until_due(&pipe, next) => {}
    }
  }
}

/// Reads TLS replies, and expires overdue requests.
async fn read_tls(pipe: Arc<Pipe>, mut reader: TlsReader) {
  let mut inbox = Inbox::new(INBOX);
  loop {
    let next = pipe.expire(Instant::now());
    // `read_buf` is cancel-safe: a timer that wins loses no bytes.
    tokio::select! {
      read = reader.read_buf(inbox.for_read()) => match read {
        Ok(0) => return pipe.fail(Error::unavailable("Redis closed the connection")),
        Ok(_) => {}
        Err(e) => return pipe.fail(Error::from(e)),
      },
      _ = until_due(&pipe, next) => continue,
    }
    if let Err(err) = pipe.dispatch(&mut inbox, true) {
      return pipe.fail(err);
    }
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
      let written = match (&mut tls, &pipe.tcp) {
        (Some(tls), _) => write_tls(tls, &chunk).await,
        (None, Some(socket)) => socket.send_all(&chunk).await,
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
