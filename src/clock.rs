//! Millisecond clocks, a leaf so that the L1 tier and the memory backend share
//! one trait without importing each other. It is a trait so that tests can
//! move time by hand.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A millisecond clock.
pub trait Clock: Send + Sync {
  fn now_ms(&self) -> u64;
}

/// Milliseconds since this clock was created. It is monotonic, so a jump in
/// wall-clock time never expires an entry early or brings an expired one back.
/// Only differences between its readings mean anything (the L1 tier).
pub struct SystemClock {
  origin: Instant,
}

impl SystemClock {
  pub fn new() -> Self {
    SystemClock {
      origin: Instant::now(),
    }
  }
}

impl Default for SystemClock {
  fn default() -> Self {
    Self::new()
  }
}

impl Clock for SystemClock {
  fn now_ms(&self) -> u64 {
    u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
  }
}

/// Unix time in ms that never goes back: the system clock read once, then
/// advanced by a monotonic one (the memory backend: TTLs are durations; EXAT
/// and TIME need an epoch).
pub struct UnixClock {
  origin_ms: u64,
  origin: SystemClock,
}

impl UnixClock {
  pub fn new() -> Self {
    let since_epoch = SystemTime::now()
      .duration_since(UNIX_EPOCH)
      .unwrap_or_default();
    UnixClock {
      origin_ms: u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
      origin: SystemClock::new(),
    }
  }
}

impl Default for UnixClock {
  fn default() -> Self {
    Self::new()
  }
}

impl Clock for UnixClock {
  fn now_ms(&self) -> u64 {
    self.origin_ms.saturating_add(self.origin.now_ms())
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_unix_clock_starts_at_system_time() {
    let since_epoch = SystemTime::now()
      .duration_since(UNIX_EPOCH)
      .map(|d| d.as_millis() as u64)
      .unwrap_or_default();
    let now = UnixClock::new().now_ms();
    assert!(now.abs_diff(since_epoch) < 60_000);
  }

  #[test]
  fn the_system_clock_is_monotonic() {
    let clock = SystemClock::new();
    let first = clock.now_ms();
    assert!(clock.now_ms() >= first);
  }
}
