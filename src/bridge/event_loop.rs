//! Replies read on Node's own event loop: the main connection's socket is
//! watched by a libuv poll handle, so a reply wakes the JS thread directly
//! and settles its promises there. Otherwise a reply costs two thread
//! wake-ups (a tokio worker reads it, then wakes JS through a threadsafe
//! function), which is most of a sequential command's latency beyond the
//! server's own.
//!
//! - Unix only (libuv polls a file descriptor; the symbols come from the
//!   `node` executable, like the Node-API ones). Elsewhere replies keep
//!   arriving through tokio.
//! - The handle is attached the first time JS writes to a connection (the
//!   JS thread is then known to be running), and is unreferenced: it never
//!   keeps Node alive (in-flight requests do, see `lib/transport.js`).
//! - It closes itself on the JS thread when its connection ends; a
//!   connection shut down from tokio shuts its socket down, which wakes the
//!   handle (see `Pipe::shutdown`).
//! - When the env ends first (a worker thread exits, whether or not the
//!   client was closed), an async cleanup hook closes the handle: a worker's
//!   loop must have no handle left, or Node aborts.
//! - Rust-side requests on the connection are still answered while JS is
//!   busy: the pipe's tokio task reads replies JS leaves waiting (`pipe.rs`).

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::{Arc, OnceLock};

use napi::bindgen_prelude::ToNapiValue;
use napi::sys;
use napi::Env;

use crate::backend::redis::pipe::{Pipe, Read};
use crate::bridge::{Bridge, Drained};

/// `UV_POLL` of libuv's `uv_handle_type` (`uv.h`): the enum numbers the
/// entries of `UV_HANDLE_TYPE_MAP` from `UV_UNKNOWN_HANDLE = 0` on (ASYNC,
/// CHECK, FS_EVENT, FS_POLL, HANDLE, IDLE, NAMED_PIPE, POLL), an order that
/// is part of libuv's stable ABI. Still checked once at run time
/// (`uv_poll_known`) before any handle is made.
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);

extern "C" {
  fn uv_handle_size(kind: c_int) -> usize;
  fn uv_handle_type_name(kind: c_int) -> *const c_char;
  fn uv_poll_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
  fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
  fn uv_poll_stop(handle: *mut c_void) -> c_int;
  fn uv_close(handle: *mut c_void, cb: CloseCb);
  fn uv_unref(handle: *mut c_void);
  fn uv_handle_set_data(handle: *mut c_void, data: *mut c_void);
  fn uv_handle_get_data(handle: *const c_void) -> *mut c_void;
}

/// The JS function to call when replies are ready (`wakeWeakly` in
/// `lib/client.js`, which reaches the client through a WeakRef: the strong
/// references here and in `Poll` never keep a client alive). Lives on the JS
/// thread, with its NativeClient.
pub struct JsWake {
  env: sys::napi_env,
  func: sys::napi_ref,
}

impl JsWake {
  pub fn new(env: &Env, func: sys::napi_value) -> napi::Result<JsWake> {
    let env = env.raw();
    let mut func_ref = ptr::null_mut();
    // SAFETY: on the JS thread, with the env napi handed us.
    if unsafe { sys::napi_create_reference(env, func, 1, &mut func_ref) } != sys::Status::napi_ok {
      return Err(napi::Error::from_reason("could not keep the wake function"));
    }
    Ok(JsWake {
      env,
      func: func_ref,
    })
  }

  /// Starts reading `pipe` on the event loop, once per connection; its JS
  /// results are drained from `bridge` (the one the pipe completes into).
  /// Called from napi methods only (the JS thread, inside a handle scope).
  pub fn attach(&self, pipe: &Arc<Pipe>, bridge: &Arc<Bridge>) {
    let Some(fd) = pipe.raw_fd() else {
      return;
    };
    if pipe.js_reads() || !uv_poll_known() {
      return;
    }
    // SAFETY: on the JS thread, with the loop of this env. The handle
    // memory is sized by libuv itself and freed in `closed` only, after
    // libuv is done with it; its data pointer owns the `Poll` until then.
    unsafe {
      let Some(poll) = Poll::new(self, pipe.clone(), bridge.clone()) else {
        return;
      };
      let mut event_loop = ptr::null_mut();
      let handle = alloc_handle();
      if handle.is_null()
        || sys::napi_get_uv_event_loop(self.env, &mut event_loop) != sys::Status::napi_ok
        || uv_poll_init(event_loop, handle, fd) != 0
      {
        free_handle(handle);
        poll.release();
        return;
      }
      let poll = Box::into_raw(Box::new(poll));
      uv_handle_set_data(handle, poll.cast());
      uv_unref(handle);
      let mut hook = ptr::null_mut();
      if sys::napi_add_async_cleanup_hook(self.env, Some(on_teardown), handle, &mut hook)
        != sys::Status::napi_ok
      {
        close(handle);
        return;
      }
      (*poll).hook.set(hook);
      if uv_poll_start(handle, UV_READABLE, on_readable) != 0 {
        close(handle);
        return;
      }
      // Only now: the read task stops watching the socket when JS reads.
      pipe.begin_js_reads();
    }
  }
}

impl Drop for JsWake {
  fn drop(&mut self) {
    // SAFETY: dropped with its NativeClient, in its finalizer, on the JS thread.
    unsafe {
      sys::napi_delete_reference(self.env, self.func);
    }
  }
}

/// What a poll handle owns: its connection, the bridge its replies land in,
/// and its own reference to the wake function and async context (a handle
/// may outlive its NativeClient by a loop turn).
struct Poll {
  pipe: Arc<Pipe>,
  bridge: Arc<Bridge>,
  env: sys::napi_env,
  func: sys::napi_ref,
  context: sys::napi_async_context,
  /// The env's teardown hook, removed once the handle is closed.
  hook: Cell<sys::napi_async_cleanup_hook_handle>,
  closing: Cell<bool>,
  /// The env is being torn down: its references go with it.
  torn_down: Cell<bool>,
}

impl Poll {
  /// # Safety
  /// On the JS thread of `js.env`, inside a handle scope (a napi method).
  unsafe fn new(js: &JsWake, pipe: Arc<Pipe>, bridge: Arc<Bridge>) -> Option<Poll> {
    let env = js.env;
    let mut func = ptr::null_mut();
    let mut func_ref = ptr::null_mut();
    let mut name = ptr::null_mut();
    let mut context = ptr::null_mut();
    let label = "ferrocache";
    // SAFETY: the caller's contract (the env's own thread, a handle scope);
    // `js.func` is a live reference of that env (dropped with `js` only), and
    // every out-pointer is a local.
    unsafe {
      let ok = sys::napi_get_reference_value(env, js.func, &mut func) == sys::Status::napi_ok
        && !func.is_null()
        && sys::napi_create_reference(env, func, 1, &mut func_ref) == sys::Status::napi_ok;
      if !ok {
        return None;
      }
      let ok =
        sys::napi_create_string_utf8(env, label.as_ptr().cast(), label.len() as isize, &mut name)
          == sys::Status::napi_ok
          && sys::napi_async_init(env, ptr::null_mut(), name, &mut context) == sys::Status::napi_ok;
      if !ok {
        sys::napi_delete_reference(env, func_ref);
        return None;
      }
    }
    Some(Poll {
      pipe,
      bridge,
      env,
      func: func_ref,
      context,
      hook: Cell::new(ptr::null_mut()),
      closing: Cell::new(false),
      torn_down: Cell::new(false),
    })
  }

  /// # Safety
  /// On the JS thread of `self.env`, once, while that env is alive (not from
  /// its teardown: the env's references go with it).
  unsafe fn release(self) {
    // SAFETY: the caller's contract; the reference and the async context were
    // created in `new` and are released here only.
    unsafe {
      sys::napi_delete_reference(self.env, self.func);
      sys::napi_async_destroy(self.env, self.context);
    }
  }
}

/// The poll handle's callback.
///
/// # Safety
/// Called by libuv only, on the JS thread, for a handle `attach` started:
/// its data is null or the `Poll` leaked there, which `closed` alone frees.
unsafe extern "C" fn on_readable(handle: *mut c_void, status: c_int, _events: c_int) {
  // SAFETY: `handle` is a live poll handle (the caller's contract).
  let poll = unsafe { uv_handle_get_data(handle) }.cast::<Poll>();
  if poll.is_null() {
    return;
  }
  // SAFETY: set in `attach`, freed only in `closed`, after this handle stops;
  // only shared references to it are made on this (the JS) thread.
  let poll = unsafe { &*poll };
  // No panic may unwind into libuv.
  let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    if status < 0 {
      return Read::Ended;
    }
    poll.pipe.read_now()
  }))
  .unwrap_or(Read::Ended);
  match read {
    Read::Nothing => {}
    Read::ForJs => {
      let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call_js(poll)));
    }
    // SAFETY: the handle is live and started, on its loop's thread.
    Read::Ended => unsafe { close(handle) },
  }
}

/// Calls `transport.wake(drained)` as libuv callbacks call into JS: in a
/// handle scope and an async callback scope, which runs the microtasks (the
/// settled promises' continuations) before returning to the loop. The
/// drained results go as the argument, saving JS a call back into `drain`.
fn call_js(poll: &Poll) {
  // SAFETY: on the JS thread (a libuv callback of the env's own loop); the
  // reference and context belong to this handle.
  unsafe {
    let env = poll.env;
    let mut scope = ptr::null_mut();
    if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
      return;
    }
    let mut func = ptr::null_mut();
    let mut recv = ptr::null_mut();
    if sys::napi_get_reference_value(env, poll.func, &mut func) == sys::Status::napi_ok
      && !func.is_null()
      // napi_make_callback wants an object as `this`.
      && sys::napi_get_global(env, &mut recv) == sys::Status::napi_ok
    {
      let drained = poll.bridge.drain();
      let mut argv = [ptr::null_mut()];
      let argc = match Drained::to_napi_value(env, drained) {
        Ok(value) => {
          argv[0] = value;
          1
        }
        // Without the argument, JS drains by itself.
        Err(_) => 0,
      };
      let mut result = ptr::null_mut();
      let status = sys::napi_make_callback(
        env,
        poll.context,
        recv,
        func,
        argc,
        argv.as_ptr(),
        &mut result,
      );
      if status == sys::Status::napi_pending_exception {
        // What an exception thrown in a libuv callback becomes: 'uncaughtException'.
        let mut err = ptr::null_mut();
        if sys::napi_get_and_clear_last_exception(env, &mut err) == sys::Status::napi_ok {
          sys::napi_fatal_exception(env, err);
        }
      }
    }
    sys::napi_close_handle_scope(env, scope);
  }
}

/// Stops and closes a handle, once; `closed` frees it.
///
/// # Safety
/// On the JS thread, with a handle `attach` initialized (`uv_poll_init`)
/// whose close callback has not run yet; its data is null or its `Poll`.
unsafe fn close(handle: *mut c_void) {
  // SAFETY: a live handle (the caller's contract).
  let poll = unsafe { uv_handle_get_data(handle) }.cast::<Poll>();
  if !poll.is_null() {
    // SAFETY: the `Poll` leaked in `attach` lives until `closed` runs, which
    // is after this; only shared references are made to it.
    let poll = unsafe { &*poll };
    if poll.closing.replace(true) {
      return;
    }
    // The env may outlive the handle's reason to read: give the socket back.
    poll.pipe.end_js_reads();
  }
  // SAFETY: a live, initialized handle on its loop's thread, closed once
  // (the `closing` flag); stopping a handle that is not started is allowed.
  unsafe {
    uv_poll_stop(handle);
    uv_close(handle, closed);
  }
}

/// The env is ending: close the handle; `closed` tells Node it is done.
///
/// # Safety
/// Called by Node only, on the JS thread, as the async cleanup hook `attach`
/// registered for `handle`, which `closed` removes: so the handle is live.
unsafe extern "C" fn on_teardown(_hook: sys::napi_async_cleanup_hook_handle, handle: *mut c_void) {
  // SAFETY: a live handle (the caller's contract).
  let poll = unsafe { uv_handle_get_data(handle) }.cast::<Poll>();
  if !poll.is_null() {
    // SAFETY: the `Poll` lives until `closed`, which has not run (the hook
    // would have been removed).
    unsafe { (*poll).torn_down.set(true) };
  }
  // SAFETY: a live handle, on the JS thread (the caller's contract).
  unsafe { close(handle) };
}

/// The close callback: frees the handle and what it owned.
///
/// # Safety
/// Called by libuv only, once, after `uv_close` in `close`: libuv is done
/// with the handle, whose memory `alloc_handle` gave.
unsafe extern "C" fn closed(handle: *mut c_void) {
  // SAFETY: the handle's memory is still ours until `free_handle` below.
  let poll = unsafe { uv_handle_get_data(handle) }.cast::<Poll>();
  if !poll.is_null() {
    // SAFETY: the Box leaked in `attach`, reclaimed once (this callback runs
    // once), with no reference to it left (the handle is closed).
    let poll = unsafe { Box::from_raw(poll) };
    let hook = poll.hook.get();
    if !hook.is_null() {
      // SAFETY: the hook `attach` added, not yet removed; a removal from
      // inside the hook itself (teardown) is what Node-API expects.
      unsafe { sys::napi_remove_async_cleanup_hook(hook) };
    }
    if !poll.torn_down.get() {
      // SAFETY: on the JS thread, once (the Box is consumed), env alive.
      unsafe { poll.release() };
    }
  }
  // SAFETY: from `alloc_handle`, and libuv no longer uses it.
  unsafe { free_handle(handle) };
}

fn handle_layout() -> Option<std::alloc::Layout> {
  // SAFETY: a pure size query; `UV_POLL` is checked by `uv_poll_known`
  // before any handle is made.
  let size = unsafe { uv_handle_size(UV_POLL) };
  std::alloc::Layout::from_size_align(size.max(1), 16).ok()
}

/// Zeroed memory for one poll handle, sized by libuv; null when it cannot be had.
fn alloc_handle() -> *mut c_void {
  match handle_layout() {
    // SAFETY: the layout's size is at least 1.
    Some(layout) => unsafe { std::alloc::alloc_zeroed(layout) }.cast(),
    None => ptr::null_mut(),
  }
}

/// # Safety
/// `handle` is null or from `alloc_handle`, and nothing uses it any more.
unsafe fn free_handle(handle: *mut c_void) {
  if handle.is_null() {
    return;
  }
  if let Some(layout) = handle_layout() {
    // SAFETY: allocated by `alloc_handle` with this same layout (libuv's
    // size does not change while the process runs); the caller's contract.
    unsafe { std::alloc::dealloc(handle.cast(), layout) };
  }
}

/// True when this process's libuv names handle type `UV_POLL` "poll"; asked
/// once. Otherwise the event-loop reader is never used, and replies keep
/// coming through tokio.
fn uv_poll_known() -> bool {
  static KNOWN: OnceLock<bool> = OnceLock::new();
  *KNOWN.get_or_init(|| {
    // SAFETY: `uv_handle_type_name` takes any value and returns null or a
    // static NUL-terminated string.
    let name = unsafe { uv_handle_type_name(UV_POLL) };
    // SAFETY: non-null, so one of libuv's static NUL-terminated strings.
    !name.is_null() && unsafe { CStr::from_ptr(name) } == c"poll"
  })
}
