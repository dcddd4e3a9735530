//! Sliding window, the two-counter approximation: the current window's count
//! plus the previous window's, weighted by how much of it the sliding window
//! still overlaps (its requests are assumed evenly spread). In integers:
//! `used = previous × (window − elapsed) + current × window`, in request·ms,
//! against a capacity of `limit × window`.
//!
//! Bounds: an aligned window never admits more than `limit`; any span of
//! `d ≤ window` ms admits at most `limit × (1 + d / window)` (so fewer than
//! `2 × limit` in any window-long span, where a fixed window lets `2 × limit`
//! through in an instant around a boundary).
//! Twin of `src/lua/ratelimit_sliding_window.lua`.

use super::{Outcome, Params};

/// The window being counted, its count, and the previous window's count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlidingWindow {
  pub window_start_ms: u64,
  pub count: u64,
  pub previous: u64,
}

pub fn sliding_window(
  state: Option<&SlidingWindow>,
  now_ms: u64,
  params: &Params,
  cost: u64,
  peek: bool,
) -> (Option<SlidingWindow>, Outcome) {
  let window = params.window_ms;
  let elapsed = now_ms % window;
  let start = now_ms - elapsed;
  let (mut current, previous) = match state {
    Some(s) if s.window_start_ms == start => (s.count, s.previous),
    Some(s) if s.window_start_ms.checked_add(window) == Some(start) => (0, s.count),
    _ => (0, 0),
  };
  let capacity = params.limit * window;
  let used = |current: u64| {
    previous
      .saturating_mul(window - elapsed)
      .saturating_add(current.saturating_mul(window))
  };
  let allowed = used(current).saturating_add(cost.saturating_mul(window)) <= capacity;
  let write = allowed && !peek;
  if write {
    current += cost;
  }
  let outcome = Outcome {
    allowed,
    remaining: capacity.saturating_sub(used(current)) / window,
    reset_ms: if current > 0 {
      2 * window - elapsed
    } else if previous > 0 {
      window - elapsed
    } else {
      0
    },
    retry_after_ms: if allowed {
      0
    } else {
      retry_after(current, previous, elapsed, params, cost)
    },
  };
  let next = SlidingWindow {
    window_start_ms: start,
    count: current,
    previous,
  };
  (write.then_some(next), outcome)
}

/// Ms until `cost` fits, if nothing else is admitted meanwhile.
fn retry_after(current: u64, previous: u64, elapsed: u64, params: &Params, cost: u64) -> u64 {
  let window = params.window_ms;
  let left = window - elapsed;
  match params.limit.checked_sub(current.saturating_add(cost)) {
    // In this window, once the previous window weighs little enough:
    // previous × (left − x) ≤ spare × window.
    Some(spare) => left - (spare * window / previous.max(1)).min(left),
    // In the next one, once this window (then the previous) weighs little
    // enough: current × (window − e) ≤ (limit − cost) × window.
    None => {
      let fits = params.limit.saturating_sub(cost) * window / current.max(1);
      left + window - fits.min(window)
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn params() -> Params {
    Params::new(10, 1000, 10).expect("valid params")
  }

  fn at(state: SlidingWindow, now: u64, cost: u64) -> Outcome {
    sliding_window(Some(&state), now, &params(), cost, true).1
  }

  #[test]
  fn the_previous_window_weighs_by_its_overlap() {
    // 10 in the window [0, 1000); at 1250 the previous one still weighs 75%.
    let s = SlidingWindow {
      window_start_ms: 0,
      count: 10,
      previous: 0,
    };
    let o = at(s, 1_250, 1);
    assert_eq!((o.allowed, o.remaining), (true, 2));
    let o = at(s, 1_800, 1);
    assert_eq!(o.remaining, 8);
    // Two windows later it is gone.
    assert_eq!(at(s, 2_000, 1).remaining, 10);
  }

  #[test]
  fn retry_after_waits_for_the_weight_to_fall() {
    // 10 at [0, 1000), 2 at [1000, 2000); at 1100: 10 × 0.9 + 2 = 11 > 10.
    let s = SlidingWindow {
      window_start_ms: 1_000,
      count: 2,
      previous: 10,
    };
    let o = at(s, 1_100, 1);
    assert!(!o.allowed);
    // 10 × (1 − e) + 3 ≤ 10 from e = 0.3, 200 ms later.
    assert_eq!(o.retry_after_ms, 200);
    assert!(at(s, 1_300, 1).allowed);
    assert!(!at(s, 1_299, 1).allowed);
    // Counts of this window weigh until the end of the next one.
    assert_eq!(o.reset_ms, 1_900);
  }

  #[test]
  fn a_full_window_waits_into_the_next() {
    // 10 admitted at the very start of a window: the next window starts
    // with a weight of 100%, so one more fits only 100 ms into it.
    let s = SlidingWindow {
      window_start_ms: 0,
      count: 10,
      previous: 0,
    };
    let o = at(s, 0, 1);
    assert_eq!(o.retry_after_ms, 1_100);
    assert!(at(s, 1_100, 1).allowed);
    assert!(!at(s, 1_099, 1).allowed);
    // The whole limit fits only once the window has left the sliding window.
    assert_eq!(at(s, 0, 10).retry_after_ms, 2_000);
  }

  #[test]
  fn a_window_long_span_can_hold_almost_twice_the_limit() {
    // The documented bound is reached: 10 in the last ms of one window, then
    // 9 more 900 ms into the next (10 × 10% + 9 = 10): 19 in 901 ms, and
    // limit × (1 + 901 / 1000) = 19.01.
    let mut s = None;
    for _ in 0..10 {
      s = sliding_window(s.as_ref(), 999, &params(), 1, false).0.or(s);
    }
    let mut admitted = 0;
    while let (Some(next), o) = sliding_window(s.as_ref(), 1_900, &params(), 1, false) {
      assert!(o.allowed);
      s = Some(next);
      admitted += 1;
    }
    assert_eq!(admitted, 9);
  }
}
