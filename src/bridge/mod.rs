//! The JS <-> Rust bridge: requests in, completions out, in batches.
//!
//! - JS hands each microtask's commands to Rust in one synchronous call; the
//!   work runs on tokio.
//! - Results land in one buffer. Only the push that turns the buffer from
//!   empty to non-empty wakes JS (through one weak threadsafe function), and
//!   JS drains every ready result in one synchronous call.
//! - The threadsafe function is weak, so it never keeps Node alive by itself;
//!   the JS layer holds a ref'd handle only while requests are in flight.
//! - Its JS function reaches the client only weakly (see `NativeClient::new`),
//!   so holding it never keeps a client from being collected.
//!
//! Kept in one module so the transport can change without touching features.

#[cfg(unix)]
pub mod event_loop;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Buffer, Null, ToNapiValue, Uint32Array};
use napi::sys;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

use crate::backend::{Completions, Decode, Done, Event, Reply};
use crate::metrics::Counters;

pub type Wake = ThreadsafeFunction<(), (), (), napi::Status, false, true>;

pub struct Bridge {
  ready: Mutex<Vec<Done>>,
  /// Every failure passes through here, so it is counted here.
  counters: Arc<Counters>,
  wake: Mutex<Option<Wake>>,
  in_flight: AtomicI64,
}

impl Bridge {
  pub fn new(wake: Wake, counters: Arc<Counters>) -> Self {
    Bridge {
      ready: Mutex::new(Vec::new()),
      counters,
      wake: Mutex::new(Some(wake)),
      in_flight: AtomicI64::new(0),
    }
  }

  /// Counts requests handed to tokio, for `stats().inFlight`.
  pub fn started(&self, n: usize) {
    self.in_flight.fetch_add(n as i64, Ordering::Relaxed);
  }

  pub fn in_flight(&self) -> i64 {
    self.in_flight.load(Ordering::Relaxed).max(0)
  }

  /// Buffers finished work and wakes JS if it was not already due to drain.
  pub fn complete(&self, done: impl IntoIterator<Item = Done>) {
    if self.push(done) {
      if let Some(wake) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
      }
    }
  }

  /// Buffers finished work; true when the buffer was empty before.
  fn push(&self, done: impl IntoIterator<Item = Done>) -> bool {
    let mut finished = 0i64;
    let was_empty = {
      let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
      let was_empty = ready.is_empty();
      for d in done {
        match &d {
          Done::Event(_) => {}
          Done::Ok(..) => finished += 1,
          Done::Err(_, err) => {
            finished += 1;
            self.counters.failed(err);
          }
        }
        ready.push(d);
      }
      was_empty && !ready.is_empty()
    };
    self.in_flight.fetch_sub(finished, Ordering::Relaxed);
    was_empty
  }

  /// Everything finished so far, packed so that JS creates few values: see
  /// `Drained`.
  pub fn drain(&self) -> Drained {
    let ready = std::mem::take(&mut *self.ready.lock().unwrap_or_else(|e| e.into_inner()));
    let mut out = Drained::with_capacity(ready.len());
    for done in ready {
      match done {
        Done::Ok(id, reply, decode) => out.reply(id, reply, decode),
        Done::Err(id, err) => out.extra(
          id,
          ResultKind::Error,
          Slot::Pair(
            Box::new(Slot::Text(err.kind().code().to_string())),
            Box::new(Slot::Text(err.message().to_string())),
          ),
        ),
        Done::Event(event) => {
          let (name, payload) = event_slots(event);
          out.extra(
            0,
            ResultKind::Event,
            Slot::Pair(Box::new(Slot::Text(name.to_string())), Box::new(payload)),
          );
        }
      }
    }
    out
  }

  /// Releases the threadsafe function; later completions are dropped.
  pub fn close(&self) {
    self.wake.lock().unwrap_or_else(|e| e.into_inner()).take();
  }
}

/// The backends' connections complete their JS requests here.
impl Completions for Bridge {
  fn complete(&self, done: Vec<Done>) {
    Bridge::complete(self, done);
  }

  fn complete_quiet(&self, done: Vec<Done>) {
    self.push(done);
  }
}

fn event_slots(event: Event) -> (&'static str, Slot) {
  match event {
    Event::Ready => ("ready", Slot::Null),
    Event::End => ("end", Slot::Null),
    Event::LocalChanged => ("localChanged", Slot::Null),
    Event::Error(err) => (
      "error",
      Slot::Reply(
        Reply::Array(vec![
          Reply::Bulk(err.kind().code().as_bytes().to_vec()),
          Reply::Bulk(err.message().as_bytes().to_vec()),
        ]),
        Decode::Text,
      ),
    ),
    Event::Reconnecting { attempt, delay_ms } => (
      "reconnecting",
      Slot::Reply(
        Reply::Array(vec![
          Reply::Int(attempt.into()),
          Reply::Int(delay_ms as i64),
        ]),
        Decode::Text,
      ),
    ),
  }
}

/// What a `Drained` entry holds. The numbers are exported on the binding
/// (`src/napi/constants.rs`), where `lib/transport.js` reads them.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum ResultKind {
  /// A string: the next `len` UTF-16 units of the blob.
  Text = 0,
  /// An integer: its decimal digits, the next `len` units of the blob.
  Int = 1,
  Null = 2,
  /// A failure: the next extra value is `[code, message]`.
  Error = 3,
  /// Any other value: the next extra value.
  Extra = 4,
  /// A connection event (id 0): the next extra value is `[name, payload]`.
  Event = 5,
}

/// Finished requests for JS, packed: `meta` holds `[id, kind, len]` per
/// request; strings and integers are slices of one `blob` string (one native
/// value for the whole drain, sliced in JS); anything else is in `extra`, in
/// order. Creating one JS value per reply was most of the JS thread's time.
pub struct Drained {
  meta: Vec<u32>,
  blob: Vec<u8>,
  ascii: bool,
  extra: Vec<Slot>,
}

impl Drained {
  fn with_capacity(n: usize) -> Self {
    Drained {
      meta: Vec::with_capacity(n * 3),
      blob: Vec::new(),
      ascii: true,
      extra: Vec::new(),
    }
  }

  fn entry(&mut self, id: u32, kind: ResultKind, len: usize) {
    self.meta.extend([id, kind as u32, len as u32]);
  }

  fn extra(&mut self, id: u32, kind: ResultKind, slot: Slot) {
    self.entry(id, kind, 0);
    self.extra.push(slot);
  }

  fn reply(&mut self, id: u32, reply: Reply, decode: Decode) {
    match reply {
      Reply::Nil => self.entry(id, ResultKind::Null, 0),
      Reply::Int(n) => {
        let digits = n.to_string();
        self.entry(id, ResultKind::Int, digits.len());
        self.blob.extend_from_slice(digits.as_bytes());
      }
      Reply::Status(s) => self.text(id, s.into_bytes()),
      Reply::Bulk(bytes) if decode == Decode::Text => match std::str::from_utf8(&bytes) {
        Ok(_) => self.text(id, bytes),
        Err(_) => self.extra(
          id,
          ResultKind::Extra,
          Slot::Reply(Reply::Bulk(bytes), decode),
        ),
      },
      other => self.extra(id, ResultKind::Extra, Slot::Reply(other, decode)),
    }
  }

  /// Appends valid UTF-8 text; its length is counted in UTF-16 units, as JS slices.
  fn text(&mut self, id: u32, bytes: Vec<u8>) {
    let len = if bytes.is_ascii() {
      bytes.len()
    } else {
      self.ascii = false;
      String::from_utf8_lossy(&bytes)
        .chars()
        .map(char::len_utf16)
        .sum()
    };
    self.entry(id, ResultKind::Text, len);
    self.blob.extend_from_slice(&bytes);
  }
}

impl ToNapiValue for Drained {
  unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
    // SAFETY: called by napi on the JS thread with a live `env`; the blob
    // pointer and length come from a live Vec, and latin1 is used only when
    // every byte is ASCII (where latin1 and UTF-8 agree).
    unsafe {
      let mut blob = std::ptr::null_mut();
      let ptr = val.blob.as_ptr().cast();
      if val.ascii {
        napi::check_status!(sys::napi_create_string_latin1(
          env,
          ptr,
          val.blob.len() as isize,
          &mut blob
        ))?;
      } else {
        napi::check_status!(sys::napi_create_string_utf8(
          env,
          ptr,
          val.blob.len() as isize,
          &mut blob
        ))?;
      }
      let meta = Uint32Array::to_napi_value(env, Uint32Array::new(val.meta))?;
      let extra = Vec::<Slot>::to_napi_value(env, val.extra)?;
      let mut out = std::ptr::null_mut();
      napi::check_status!(sys::napi_create_array_with_length(env, 3, &mut out))?;
      for (i, v) in [meta, blob, extra].into_iter().enumerate() {
        napi::check_status!(sys::napi_set_element(env, out, i as u32, v))?;
      }
      Ok(out)
    }
  }
}

/// A value of `Drained::extra`.
pub enum Slot {
  Null,
  Text(String),
  Pair(Box<Slot>, Box<Slot>),
  Reply(Reply, Decode),
}

impl ToNapiValue for Slot {
  unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
    // SAFETY: called by napi on the JS thread with a live `env`; every branch
    // delegates to napi's own conversions with that same env.
    unsafe {
      match val {
        Slot::Null => Null::to_napi_value(env, Null),
        Slot::Text(s) => String::to_napi_value(env, s),
        Slot::Pair(a, b) => Vec::<Slot>::to_napi_value(env, vec![*a, *b]),
        Slot::Reply(reply, decode) => reply_to_js(env, reply, decode),
      }
    }
  }
}

/// # Safety
/// `env` must be the live env of the JS thread this runs on.
unsafe fn reply_to_js(
  env: sys::napi_env,
  reply: Reply,
  decode: Decode,
) -> napi::Result<sys::napi_value> {
  // SAFETY: forwarded from the caller's contract; napi conversions only.
  unsafe {
    match reply {
      Reply::Nil => Null::to_napi_value(env, Null),
      Reply::Int(n) => i64::to_napi_value(env, n),
      Reply::Double(d) => f64::to_napi_value(env, d),
      Reply::Bool(b) => bool::to_napi_value(env, b),
      Reply::Status(s) => String::to_napi_value(env, s),
      // Only inside an array (a top-level error rejects its call): an
      // element of EXEC's reply, say. An Error, so it cannot pass for data.
      Reply::Error(s) => {
        let code = String::to_napi_value(env, "ERR_REDIS".to_string())?;
        let message = String::to_napi_value(env, s)?;
        let mut err = std::ptr::null_mut();
        napi::check_status!(sys::napi_create_error(env, code, message, &mut err))?;
        Ok(err)
      }
      Reply::Bulk(bytes) => match decode {
        Decode::Bytes => Buffer::to_napi_value(env, Buffer::from(bytes)),
        Decode::Text => match String::from_utf8(bytes) {
          Ok(s) => String::to_napi_value(env, s),
          Err(e) => Buffer::to_napi_value(env, Buffer::from(e.into_bytes())),
        },
      },
      Reply::Array(items) => {
        let mut arr = std::ptr::null_mut();
        napi::check_status!(sys::napi_create_array_with_length(
          env,
          items.len(),
          &mut arr
        ))?;
        for (i, item) in items.into_iter().enumerate() {
          let v = reply_to_js(env, item, decode)?;
          napi::check_status!(sys::napi_set_element(env, arr, i as u32, v))?;
        }
        Ok(arr)
      }
    }
  }
}
