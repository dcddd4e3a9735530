//! GCRA (generic cell rate algorithm): one value per id, the theoretical
//! arrival time (TAT), when the limiter is full again. Each admitted unit
//! pushes it `window / limit` ms further; a request is admitted while the TAT
//! stays within `burst × window / limit` ms of now. Exact: the TAT is kept as
//! whole ms plus a fraction in 1/limit ms, so no rounding ever accumulates.
//! Admits exactly what the token bucket with the same parameters admits.
//! Twin of `src/lua/ratelimit_gcra.lua`.

use super::{Outcome, Params};

/// The TAT: `tat_ms + tat_frac / limit` ms since the epoch (`tat_frac < limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra {
  pub tat_ms: u64,
  pub tat_frac: u64,
}

pub fn gcra(
  state: Option<&Gcra>,
  now_ms: u64,
  params: &Params,
  cost: u64,
  peek: bool,
) -> (Option<Gcra>, Outcome) {
  let limit = params.limit;
  let tolerance = params.burst * params.window_ms;
  // How far the TAT is ahead of now, in 1/limit ms (0 once it has passed).
  let ahead = match state {
    Some(s) if s.tat_ms >= now_ms => (s.tat_ms - now_ms)
      .saturating_mul(limit)
      .saturating_add(s.tat_frac),
    _ => 0,
  };
  let next = ahead.saturating_add(cost.saturating_mul(params.window_ms));
  let allowed = next <= tolerance;
  let write = allowed && !peek;
  let ahead = if write { next } else { ahead };
  let outcome = Outcome {
    allowed,
    remaining: tolerance.saturating_sub(ahead) / params.window_ms,
    reset_ms: ahead.div_ceil(limit),
    retry_after_ms: next.saturating_sub(tolerance).div_ceil(limit),
  };
  let tat = Gcra {
    tat_ms: now_ms.saturating_add(ahead / limit),
    tat_frac: ahead % limit,
  };
  (write.then_some(tat), outcome)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_tat_moves_by_the_emission_interval() {
    // 3 per second: 333.3 ms each; burst 2.
    let p = Params::new(3, 1000, 2).expect("valid params");
    let (s, o) = gcra(None, 10_000, &p, 1, false);
    assert_eq!(
      s,
      Some(Gcra {
        tat_ms: 10_333,
        tat_frac: 1
      })
    );
    assert_eq!((o.allowed, o.remaining, o.reset_ms), (true, 1, 334));
    let (s, o) = gcra(s.as_ref(), 10_000, &p, 1, false);
    assert_eq!(
      s,
      Some(Gcra {
        tat_ms: 10_666,
        tat_frac: 2
      })
    );
    assert_eq!(o.remaining, 0);
    let (none, o) = gcra(s.as_ref(), 10_000, &p, 1, false);
    assert!(!o.allowed && none.is_none());
    assert_eq!(o.retry_after_ms, 334);
    assert!(!gcra(s.as_ref(), 10_333, &p, 1, true).1.allowed);
    assert!(gcra(s.as_ref(), 10_334, &p, 1, true).1.allowed);
    // A passed TAT is a full limiter.
    let (_, o) = gcra(s.as_ref(), 10_667, &p, 1, true);
    assert_eq!((o.remaining, o.reset_ms), (2, 0));
  }

  #[test]
  fn three_thirds_make_one_whole_interval() {
    let p = Params::new(3, 1000, 3).expect("valid params");
    let mut s = None;
    for _ in 0..3 {
      s = gcra(s.as_ref(), 0, &p, 1, false).0;
    }
    assert_eq!(
      s,
      Some(Gcra {
        tat_ms: 1000,
        tat_frac: 0
      })
    );
  }
}
