//! The numbers JS and Rust must agree on, exported on the binding: `lib/`
//! reads them once at load (`constant` in `lib/native.js`, which refuses to
//! load a binding that lacks one), so each has one source, the Rust item it
//! is taken from.

// napi-derive registers a `#[napi]` constant only outside tests: in a test
// build nothing reads them.
#![cfg_attr(test, allow(dead_code))]

use napi_derive::napi;

use crate::bridge::ResultKind;
use crate::cache::CacheEvent;

/// Kinds of a drained result (`bridge::ResultKind`), for `lib/transport.js`.
#[napi]
pub const RESULT_TEXT: u32 = ResultKind::Text as u32;
#[napi]
pub const RESULT_INT: u32 = ResultKind::Int as u32;
#[napi]
pub const RESULT_NULL: u32 = ResultKind::Null as u32;
#[napi]
pub const RESULT_ERROR: u32 = ResultKind::Error as u32;
#[napi]
pub const RESULT_EXTRA: u32 = ResultKind::Extra as u32;
#[napi]
pub const RESULT_EVENT: u32 = ResultKind::Event as u32;

/// Command ids run through `1..=COMMAND_ID_SPAN` and wrap (`command_id`,
/// and `Transport` in `lib/transport.js`); the ids of native procedures
/// (`Transport.op`) are above it.
#[napi]
pub const COMMAND_ID_SPAN: u32 = 0x7fff_ffff;

/// Cache events `lib/cache.js` reports through `cacheRecord`.
#[napi]
pub const CACHE_REMOTE_HIT: u32 = CacheEvent::RemoteHit as u32;
#[napi]
pub const CACHE_MISS: u32 = CacheEvent::Miss as u32;
#[napi]
pub const CACHE_LOAD: u32 = CacheEvent::Load as u32;
#[napi]
pub const CACHE_ERROR: u32 = CacheEvent::Error as u32;
