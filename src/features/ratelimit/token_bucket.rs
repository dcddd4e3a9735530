//! Token bucket: holds up to `burst` tokens, refilled continuously at `limit`
//! per window; a request takes `cost` tokens. Tokens are counted in
//! 1/window-ms units (`tokens × window`), so the refill is `limit` units per
//! ms and every step is integer arithmetic.
//! Twin of `src/lua/ratelimit_token_bucket.lua`.

use super::{Outcome, Params};

/// The bucket's level, in `tokens × window` units, when it was last written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
  pub tokens: u64,
  pub updated_ms: u64,
}

pub fn token_bucket(
  state: Option<&TokenBucket>,
  now_ms: u64,
  params: &Params,
  cost: u64,
  peek: bool,
) -> (Option<TokenBucket>, Outcome) {
  let full = params.burst * params.window_ms;
  let tokens = match state {
    Some(s) => {
      let refill = now_ms
        .saturating_sub(s.updated_ms)
        .saturating_mul(params.limit);
      s.tokens.saturating_add(refill).min(full)
    }
    None => full,
  };
  let needed = cost.saturating_mul(params.window_ms);
  let allowed = tokens >= needed;
  let retry_after_ms = needed.saturating_sub(tokens).div_ceil(params.limit);
  let write = allowed && !peek;
  let tokens = if write { tokens - needed } else { tokens };
  let outcome = Outcome {
    allowed,
    remaining: tokens / params.window_ms,
    reset_ms: (full - tokens).div_ceil(params.limit),
    retry_after_ms,
  };
  let next = TokenBucket {
    tokens,
    updated_ms: now_ms,
  };
  (write.then_some(next), outcome)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn refills_continuously_up_to_burst() {
    // 2 per second, bucket of 4: 4 at once, then one every 500 ms.
    let p = Params::new(2, 1000, 4).expect("valid params");
    let mut s = None;
    for left in [3, 2, 1, 0] {
      let (next, o) = token_bucket(s.as_ref(), 1_000, &p, 1, false);
      assert_eq!((o.allowed, o.remaining), (true, left));
      s = next;
    }
    let (next, o) = token_bucket(s.as_ref(), 1_000, &p, 1, false);
    assert!(!o.allowed && next.is_none());
    assert_eq!((o.retry_after_ms, o.reset_ms), (500, 2_000));
    let (_, o) = token_bucket(s.as_ref(), 1_499, &p, 1, true);
    assert!(!o.allowed);
    assert_eq!(o.retry_after_ms, 1);
    let (_, o) = token_bucket(s.as_ref(), 1_500, &p, 1, true);
    assert!(o.allowed);
    // Never above the burst, however long it waited.
    let (_, o) = token_bucket(s.as_ref(), 1_000_000, &p, 1, true);
    assert_eq!((o.remaining, o.reset_ms), (4, 0));
  }

  #[test]
  fn partial_tokens_are_kept_exactly() {
    // 3 per second: a token every 333.3 ms; 3 tokens take exactly 1000 ms.
    let p = Params::new(3, 1000, 3).expect("valid params");
    let empty = TokenBucket {
      tokens: 0,
      updated_ms: 0,
    };
    let (_, o) = token_bucket(Some(&empty), 0, &p, 3, true);
    assert_eq!(o.retry_after_ms, 1000);
    assert!(!token_bucket(Some(&empty), 999, &p, 3, true).1.allowed);
    assert!(token_bucket(Some(&empty), 1000, &p, 3, true).1.allowed);
    assert_eq!(
      token_bucket(Some(&empty), 0, &p, 1, true).1.retry_after_ms,
      334
    );
  }

  #[test]
  fn a_clock_going_back_refills_nothing() {
    let p = Params::new(1, 1000, 1).expect("valid params");
    let s = TokenBucket {
      tokens: 0,
      updated_ms: 5_000,
    };
    let (_, o) = token_bucket(Some(&s), 4_000, &p, 1, true);
    assert_eq!((o.allowed, o.retry_after_ms), (false, 1000));
  }
}
