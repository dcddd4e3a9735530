//! The job queue's blocking pop: the one step of the queue that is not a
//! plain command or a script sent from JS (see `features/queue.rs`).

use std::time::Duration;

use napi_derive::napi;

use super::NativeClient;
use crate::args;
use crate::backend::Done;
use crate::error::Error;
use crate::features::queue::timeout_arg;

#[napi]
impl NativeClient {
  /// Moves the oldest item of `list` (already prefixed) to the head of
  /// `processing`, waiting up to `timeoutMs` (> 0) for one: resolves the item,
  /// or null when none came. A timeout of 0 would block forever, so it is refused.
  #[napi]
  pub fn queue_pop(&self, id: u32, list: String, processing: String, timeout_ms: u32) {
    if timeout_ms == 0 {
      let err = Error::invalid("timeoutMs must be positive for a blocking pop");
      self.core.bridge.complete([Done::Err(id, err)]);
      return;
    }
    let wait = Duration::from_millis(timeout_ms.into());
    let cmd = args![
      b"BLMOVE",
      list,
      processing,
      b"RIGHT",
      b"LEFT",
      timeout_arg(wait)
    ];
    self.core.blocking(id, cmd, wait);
  }
}
