//! The job queue's blocking pop. Everything else of the queue is plain
//! commands and a script sent from JS; only the wait needs a native op, because
//! it must run on a connection of its own (`Backend::exec_blocking`) instead
//! of holding up the multiplexed connection every other command shares.

use std::time::Duration;

/// BLMOVE's timeout argument: seconds, with the millisecond precision Redis accepts.
pub fn timeout_arg(wait: Duration) -> String {
  let ms = wait.as_millis();
  format!("{}.{:03}", ms / 1000, ms % 1000)
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
