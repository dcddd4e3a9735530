//! What a backend hands back for JS: finished requests and connection
//! events, through a sink it defines and the bridge implements. So the
//! backends never name the bridge (the layers run one way: bridge above
//! backend), and a pipe completes a whole read's worth of requests in one
//! dynamic call.

use super::{Event, Reply};
use crate::error::Error;

/// How bulk replies are handed to JS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decode {
  /// A string when the bytes are UTF-8, else a Buffer.
  Text,
  /// Always a Buffer.
  Bytes,
}

/// One finished request, or a connection event (request id 0).
pub enum Done {
  Ok(u32, Reply, Decode),
  Err(u32, Error),
  Event(Event),
}

/// Where a connection's JS results go (the bridge, for JS to drain).
pub trait Completions: Send + Sync {
  /// Buffers finished work and wakes JS if it was not already due to drain.
  fn complete(&self, done: Vec<Done>);

  /// Buffers finished work without waking JS: for the JS thread itself,
  /// which drains right after.
  fn complete_quiet(&self, done: Vec<Done>);
}
