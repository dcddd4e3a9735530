//! Every `#[napi]` item of the addon, and the conversion of its arguments:
//! the JS layer (`lib/`) wraps these into the public API. Nothing else in
//! the crate imports this module.
//!
//! A method that can fail returns `napi::Result<T, Kind>` (napi-derive reads
//! the `Result` by name, so an alias would not do): the error's status is its
//! `FerroError` code, which Node-API makes the thrown JS error's `code`.

mod constants;
mod queue;
mod ratelimit;

#[cfg(unix)]
use napi::bindgen_prelude::JsValue;
use napi::bindgen_prelude::{Buffer, Either, Function};
use std::time::Duration;

use napi::Env;
use napi_derive::napi;

use crate::backend::Decode;
use crate::bridge::Drained;
use crate::cache::CacheEvent;
use crate::client::ClientCore;
use crate::config::{Config, NativeOptions};
use crate::error::{Error, Kind};

/// The wait of a blocking command that has no bound of its own: long enough
/// to mean "until served or closed", short enough that adding the command
/// timeout to it cannot overflow a deadline.
const UNBOUNDED_WAIT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A command argument as JS hands it over.
type Arg = Either<String, Buffer>;

fn bytes(arg: Arg) -> Vec<u8> {
  match arg {
    Either::A(s) => s.into_bytes(),
    Either::B(b) => b.to_vec(),
  }
}

/// Command ids run through `1..=COMMAND_ID_SPAN` and wrap, as `lib/transport.js` counts them.
fn command_id(first: u32, offset: u32) -> u32 {
  let span = u64::from(constants::COMMAND_ID_SPAN);
  ((u64::from(first.max(1)) - 1 + u64::from(offset)) % span) as u32 + 1
}

/// Counters of the client, the cache and the L1 tier, read synchronously.
#[napi(object)]
pub struct NativeStats {
  pub commands: f64,
  pub errors: f64,
  pub timeouts: f64,
  pub reconnects: f64,
  pub in_flight: f64,
  pub hits: f64,
  pub hit_rate: f64,
  pub local_hits: f64,
  pub remote_hits: f64,
  pub misses: f64,
  pub loads: f64,
  pub cache_errors: f64,
  pub local_entries: f64,
  pub local_bytes: f64,
  pub local_evictions: f64,
}

#[napi]
pub struct NativeClient {
  core: ClientCore,
  /// Reads the connection's replies on Node's event loop.
  #[cfg(unix)]
  js_wake: crate::bridge::event_loop::JsWake,
}

#[napi]
impl NativeClient {
  /// `wake` is called when results are ready: with no arguments (then JS
  /// calls `drain`), or with the drained results (the event-loop reader).
  /// Rust holds it strongly for the client's whole life (a threadsafe
  /// function cannot hold its function weakly), so it must reach the JS
  /// client only weakly, as `wakeWeakly` in `lib/client.js` does: otherwise
  /// it roots the client, which then is never collected, closed or not.
  #[napi(constructor)]
  pub fn new(env: Env, options: NativeOptions, wake: Function<(), ()>) -> napi::Result<Self, Kind> {
    let config = Config::from_options(options)?;
    #[cfg(unix)]
    let js_wake = crate::bridge::event_loop::JsWake::new(&env, wake.raw()).map_err(Error::from)?;
    #[cfg(not(unix))]
    let _ = env;
    let wake = wake
      .build_threadsafe_function()
      .weak::<true>()
      .callee_handled::<false>()
      .build()
      .map_err(Error::from)?;
    Ok(NativeClient {
      core: ClientCore::new(config, wake)?,
      #[cfg(unix)]
      js_wake,
    })
  }

  #[napi]
  pub fn connect(&self, id: u32) {
    self.core.connect(id);
  }

  /// One batch of `count` RESP-encoded commands; the i-th completes under
  /// request id `first_id + i` (ids wrap within 1..2^31). `bytes_at` lists the
  /// commands whose bulk replies must come back as Buffers.
  #[napi]
  pub fn submit(&self, payload: Arg, count: u32, first_id: u32, bytes_at: Option<Vec<u32>>) {
    let mut decodes = vec![Decode::Text; count as usize];
    for i in bytes_at.unwrap_or_default() {
      if let Some(d) = decodes.get_mut(i as usize) {
        *d = Decode::Bytes;
      }
    }
    let ids = (0..count).map(|i| command_id(first_id, i)).collect();
    let pipe = self.core.submit(bytes(payload), ids, decodes);
    #[cfg(unix)]
    if let Some(pipe) = pipe.filter(|p| !p.js_reads()) {
      self.js_wake.attach(&pipe, &self.core.bridge);
    }
    #[cfg(not(unix))]
    let _ = pipe;
  }

  /// Every finished request, packed (see `bridge::Drained`).
  #[napi]
  pub fn drain(&self) -> Drained {
    self.core.bridge.drain()
  }

  /// The number of the latest invalidation, read before a Redis read or
  /// write whose value may enter the L1, and handed to `localInsert`.
  #[napi]
  pub fn local_epoch(&self) -> f64 {
    self.core.coherence.epoch() as f64
  }

  /// One blocking command of `command()` (BLPOP, XREAD ... BLOCK, WAIT...)
  /// on a connection of its own. `wait_ms`: how long the server may hold it,
  /// as the command's own timeout says; 0 (block until served) or a timeout
  /// JS could not read means no bound but `close()`.
  #[napi]
  pub fn blocking_command(&self, id: u32, args: Vec<Arg>, wait_ms: f64) {
    let wait = if wait_ms > 0.0 {
      Duration::from_secs_f64((wait_ms / 1000.0).min(UNBOUNDED_WAIT.as_secs_f64()))
    } else {
      UNBOUNDED_WAIT
    };
    let cmd = args.into_iter().map(bytes).collect();
    self.core.blocking(id, cmd, wait);
  }

  #[napi]
  pub fn invalidate(&self, id: u32, pattern: String) {
    self.core.invalidate(id, pattern);
  }

  #[napi]
  pub fn invalidate_tags(&self, id: u32, tags: Vec<String>) {
    self.core.invalidate_tags(id, tags);
  }

  #[napi]
  pub fn ping(&self, id: u32) {
    self.core.ping(id);
  }

  #[napi]
  pub fn server_info(&self, id: u32) {
    self.core.server_info(id);
  }

  /// Reports L1 hits JS served by itself: `keys` for recency, `hits` counted.
  #[napi]
  pub fn local_touch(&self, keys: Vec<String>, hits: u32) {
    self.core.cache.local_touch(&keys, u64::from(hits));
  }

  /// Records an L1 entry; returns the TTL (ms) its JS copy gets, or null when not cached.
  /// `since`: `localEpoch()` read before the value was read or written (see `coherence.rs`).
  #[napi]
  pub fn local_insert(
    &self,
    key: String,
    value_bytes: f64,
    ttl_ms: f64,
    tags: Vec<String>,
    since: Option<f64>,
  ) -> Option<f64> {
    let since = since.map(|s| s.max(0.0) as u64);
    self
      .core
      .coherence
      .local_insert(
        &key,
        value_bytes as usize,
        ttl_ms.max(0.0) as u64,
        &tags,
        since,
      )
      .map(|v| v as f64)
  }

  /// This client changes `keys`: fences the reads of them in flight and
  /// drops their L1 entries (see `Coherence::forget`).
  #[napi]
  pub fn local_remove(&self, keys: Vec<String>) -> u32 {
    self.core.coherence.forget(&keys) as u32
  }

  /// Empties the L1 and fences every read in flight: this client emptied
  /// the database (`FLUSHDB`, `FLUSHALL`, `SWAPDB` through `command()`),
  /// which the server never reports back to it.
  #[napi]
  pub fn local_flush(&self) {
    self.core.coherence.flush();
  }

  /// Keys whose parsed copies JS must drop; null means all of them.
  #[napi]
  pub fn local_take_removed(&self) -> Option<Vec<String>> {
    self.core.cache.take_removed()
  }

  #[napi]
  pub fn cache_record(&self, event: u32) -> napi::Result<(), Kind> {
    let event =
      CacheEvent::from_code(event).ok_or_else(|| Error::invalid("unknown cache event"))?;
    self.core.cache.record(event);
    Ok(())
  }

  /// The SHA1 of one of the library's Lua scripts, for `EVALSHA`.
  #[napi]
  pub fn script_sha(&self, name: String) -> napi::Result<String, Kind> {
    crate::features::scripts::sha(&name)
      .map(str::to_string)
      .ok_or_else(|| Error::invalid(format!("unknown script {name}")).into())
  }

  /// The Lua source of one of the library's scripts, for the NOSCRIPT fallback.
  #[napi]
  pub fn script_code(&self, name: String) -> napi::Result<String, Kind> {
    crate::features::scripts::code(&name)
      .map(str::to_string)
      .ok_or_else(|| Error::invalid(format!("unknown script {name}")).into())
  }

  /// False when the client was created with `local: false`.
  #[napi]
  pub fn local_enabled(&self) -> bool {
    self.core.cache.local_enabled()
  }

  /// The validated `defaultTtl`, in ms.
  #[napi]
  pub fn default_ttl_ms(&self) -> f64 {
    self.core.config.default_ttl_ms as f64
  }

  #[napi]
  pub fn backend_name(&self) -> String {
    self.core.backend.name().to_string()
  }

  #[napi]
  pub fn stats(&self) -> NativeStats {
    let c = self.core.counters.snapshot();
    let k = self.core.cache.snapshot();
    NativeStats {
      commands: c.commands as f64,
      errors: c.errors as f64,
      timeouts: c.timeouts as f64,
      reconnects: c.reconnects as f64,
      in_flight: self.core.bridge.in_flight() as f64,
      hits: k.hits() as f64,
      hit_rate: k.hit_rate(),
      local_hits: k.local_hits as f64,
      remote_hits: k.remote_hits as f64,
      misses: k.misses as f64,
      loads: k.loads as f64,
      cache_errors: k.errors as f64,
      local_entries: k.local.entries as f64,
      local_bytes: k.local.bytes as f64,
      local_evictions: k.local.evictions as f64,
    }
  }

  #[napi]
  pub fn metrics(&self) -> String {
    crate::metrics::prometheus(
      &self.core.counters.snapshot(),
      &self.core.cache.snapshot(),
      self.core.bridge.in_flight(),
    )
  }

  #[napi]
  pub fn close(&self) {
    self.core.close();
  }
}

/// A client collected (or whose env ends, as a worker thread's does)
/// without `close()` still lets go of its connections and tasks. GC finds
/// only an idle one: `lib/transport.js` holds a client with requests in flight.
impl Drop for NativeClient {
  fn drop(&mut self) {
    self.core.close();
  }
}

#[cfg(test)]
mod tests {
  use super::command_id;

  #[test]
  fn command_ids_wrap_like_the_js_counter() {
    assert_eq!(command_id(1, 0), 1);
    assert_eq!(command_id(5, 3), 8);
    assert_eq!(command_id(0x7fff_ffff, 0), 0x7fff_ffff);
    assert_eq!(command_id(0x7fff_ffff, 1), 1);
    assert_eq!(command_id(0x7fff_fffe, 3), 2);
  }
}
