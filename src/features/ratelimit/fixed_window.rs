//! Fixed window: at most `limit` per window; windows start at multiples of
//! the window on the clock. Twin of `src/lua/ratelimit_fixed_window.lua`,
//! where the count is a plain integer expiring at its window's end (the
//! cheapest script of the four): `window_start_ms` here stands for that expiry.

use super::{Outcome, Params};

/// The window being counted, and what it admitted so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedWindow {
  pub window_start_ms: u64,
  pub count: u64,
}

pub fn fixed_window(
  state: Option<&FixedWindow>,
  now_ms: u64,
  params: &Params,
  cost: u64,
  peek: bool,
) -> (Option<FixedWindow>, Outcome) {
  let start = now_ms - now_ms % params.window_ms;
  let left = params.window_ms - (now_ms - start);
  let count = match state {
    Some(s) if s.window_start_ms == start => s.count,
    _ => 0,
  };
  let allowed = count.saturating_add(cost) <= params.limit;
  let write = allowed && !peek;
  let count = if write { count + cost } else { count };
  let outcome = Outcome {
    allowed,
    remaining: params.limit.saturating_sub(count),
    reset_ms: if count > 0 { left } else { 0 },
    retry_after_ms: if allowed { 0 } else { left },
  };
  let next = FixedWindow {
    window_start_ms: start,
    count,
  };
  (write.then_some(next), outcome)
}

#[cfg(test)]
mod tests {
  use super::*;

  fn params() -> Params {
    Params::new(3, 1000, 3).expect("valid params")
  }

  /// Runs `costs` at `now`, threading the state; returns the last outcome.
  fn run(state: &mut Option<FixedWindow>, now: u64, cost: u64) -> Outcome {
    let (next, outcome) = fixed_window(state.as_ref(), now, &params(), cost, false);
    if next.is_some() {
      *state = next;
    }
    outcome
  }

  #[test]
  fn admits_the_limit_per_aligned_window() {
    let mut s = None;
    for left in [2, 1, 0] {
      let o = run(&mut s, 10_250, 1);
      assert!(o.allowed);
      assert_eq!(o.remaining, left);
      assert_eq!(o.reset_ms, 750);
    }
    let denied = run(&mut s, 10_999, 1);
    assert!(!denied.allowed);
    assert_eq!(
      (denied.remaining, denied.retry_after_ms, denied.reset_ms),
      (0, 1, 1)
    );
    // The next window starts at 11 000 exactly.
    let o = run(&mut s, 11_000, 1);
    assert!(o.allowed);
    assert_eq!((o.remaining, o.reset_ms), (2, 1000));
  }

  #[test]
  fn a_denial_and_a_peek_write_nothing() {
    let mut s = None;
    run(&mut s, 5_000, 2);
    let before = s;
    let (next, o) = fixed_window(s.as_ref(), 5_001, &params(), 2, false);
    assert!(!o.allowed && next.is_none());
    assert_eq!(o.remaining, 1);
    let (next, o) = fixed_window(before.as_ref(), 5_002, &params(), 1, true);
    assert!(o.allowed && next.is_none());
    assert_eq!(o.remaining, 1);
  }

  #[test]
  fn an_old_window_counts_as_empty() {
    let old = FixedWindow {
      window_start_ms: 3_000,
      count: 3,
    };
    let (_, o) = fixed_window(Some(&old), 4_500, &params(), 1, true);
    assert_eq!((o.allowed, o.remaining, o.reset_ms), (true, 3, 0));
  }
}
