//! The JS <-> Rust bridge: requests in, completions out, in batches.
//!
//! - JS hands each microtask's commands to Rust in one synchronous call; the
//!   work runs on tokio.
//! - Results land in one buffer. Only the push that turns the buffer from
//!   empty to non-empty wakes JS (through one weak threadsafe function), and
//!   JS drains every ready result in one synchronous call.
//! - The threadsafe function is weak, so it never keeps Node alive by itself;
//!   the JS layer holds a ref'd handle only while requests are in flight.
//!
//! Kept in one module so the transport can change without touching features.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use napi::bindgen_prelude::{Buffer, Null, ToNapiValue};
use napi::sys;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

use crate::backend::{Event, Reply};
use crate::error::Error;

/// How bulk replies are handed to JS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decode {
  /// A string when the bytes are UTF-8, else a Buffer.
  Text,
  /// Always a Buffer.
  Bytes,
}

impl Decode {
  pub fn from_flag(flag: u32) -> Decode {
    if flag == 1 {
      Decode::Bytes
    } else {
      Decode::Text
    }
  }
}

/// One finished request, or a connection event (request id 0).
pub enum Done {
  Ok(u32, Reply, Decode),
  Err(u32, Error),
  Event(Event),
}

pub type Wake = ThreadsafeFunction<(), (), (), napi::Status, false, true>;

pub struct Bridge {
  ready: Mutex<Vec<Done>>,
  wake: Mutex<Option<Wake>>,
  in_flight: AtomicI64,
}

impl Bridge {
  pub fn new(wake: Wake) -> Self {
    Bridge {
      ready: Mutex::new(Vec::new()),
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
    let mut finished = 0i64;
    let was_empty = {
      let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
      let was_empty = ready.is_empty();
      for d in done {
        if !matches!(d, Done::Event(_)) {
          finished += 1;
        }
        ready.push(d);
      }
      was_empty && !ready.is_empty()
    };
    self.in_flight.fetch_sub(finished, Ordering::Relaxed);
    if was_empty {
      if let Some(wake) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
      }
    }
  }

  /// Everything finished so far, flattened for JS as `[id, code, value]`
  /// triples: `code` is null on success; on failure it is the error code and
  /// `value` the message. Id 0 carries events: `[0, name, payload]`.
  pub fn drain(&self) -> Vec<Slot> {
    let ready = std::mem::take(&mut *self.ready.lock().unwrap_or_else(|e| e.into_inner()));
    let mut out = Vec::with_capacity(ready.len() * 3);
    for done in ready {
      match done {
        Done::Ok(id, reply, decode) => {
          out.push(Slot::Id(id));
          out.push(Slot::Null);
          out.push(Slot::Reply(reply, decode));
        }
        Done::Err(id, err) => {
          out.push(Slot::Id(id));
          out.push(Slot::Text(err.kind().code().to_string()));
          out.push(Slot::Text(err.message().to_string()));
        }
        Done::Event(event) => {
          out.push(Slot::Id(0));
          let (name, payload) = event_slots(event);
          out.push(Slot::Text(name.to_string()));
          out.push(payload);
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

fn event_slots(event: Event) -> (&'static str, Slot) {
  match event {
    Event::Ready => ("ready", Slot::Null),
    Event::End => ("end", Slot::Null),
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

/// One element of a drained batch.
pub enum Slot {
  Id(u32),
  Null,
  Text(String),
  Reply(Reply, Decode),
}

impl ToNapiValue for Slot {
  unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
    // SAFETY: called by napi on the JS thread with a live `env`; every branch
    // delegates to napi's own conversions with that same env.
    unsafe {
      match val {
        Slot::Id(id) => u32::to_napi_value(env, id),
        Slot::Null => Null::to_napi_value(env, Null),
        Slot::Text(s) => String::to_napi_value(env, s),
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
      Reply::Status(s) | Reply::Error(s) => String::to_napi_value(env, s),
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
