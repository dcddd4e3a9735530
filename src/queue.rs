//! The job queue's blocking pop. Everything else of the queue is plain
//! commands and a script sent from JS; only the wait needs a native op, because
//! it must run on a connection of its own (`Backend::exec_blocking`) instead
//! of holding up the multiplexed connection every other command shares.

use std::time::Duration;

use napi_derive::napi;

use crate::args;
use crate::bridge::Done;
use crate::error::Error;
use crate::NativeClient;

/// BLMOVE's timeout argument: seconds, with the millisecond precision Redis accepts.
fn timeout_arg(wait: Duration) -> String {
  let ms = wait.as_millis();
  format!("{}.{:03}", ms / 1000, ms % 1000)
}

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

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn timeout_keeps_milliseconds() {
    assert_eq!(timeout_arg(Duration::from_millis(1)), "0.001");
    assert_eq!(timeout_arg(Duration::from_millis(2500)), "2.500");
    assert_eq!(timeout_arg(Duration::from_secs(60)), "60.000");
  }
}
