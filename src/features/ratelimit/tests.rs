//! Properties every algorithm keeps, on pseudo-random sequences with a fake
//! clock: `retry_after_ms` and `reset_ms` are exact, a missing state means
//! the same as an expired one, nothing is admitted beyond the algorithm's
//! bound, and GCRA admits exactly what the token bucket does.

use super::*;

const ALL: [Algorithm; 4] = [
  Algorithm::FixedWindow,
  Algorithm::SlidingWindow,
  Algorithm::TokenBucket,
  Algorithm::Gcra,
];

/// (limit, window ms, burst)
const PARAMS: [(u64, u64, u64); 6] = [
  (1, 1000, 1),
  (3, 1000, 3),
  (3, 1000, 5),
  (7, 999, 7),
  (10, 60_000, 4),
  (100, 1000, 150),
];

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
  fn below(&mut self, n: u64) -> u64 {
    self.0 ^= self.0 << 13;
    self.0 ^= self.0 >> 7;
    self.0 ^= self.0 << 17;
    self.0 % n
  }
}

struct Call {
  now: u64,
  cost: u64,
  peek: bool,
  /// The stored state before the call, and after it.
  before: Option<State>,
  after: Option<State>,
  outcome: Outcome,
}

/// Runs `steps` calls, dropping the state once its TTL (`reset_ms`) passed.
fn replay(algorithm: Algorithm, p: &Params, seed: u64, steps: usize) -> Vec<Call> {
  let mut rng = Rng(seed);
  let cap = algorithm.capacity(p);
  let mut now = 1_700_000_000_000 + rng.below(p.window_ms);
  let mut stored: Option<(State, u64)> = None;
  let mut calls = Vec::with_capacity(steps);
  for _ in 0..steps {
    // Bursts (no time passing), short gaps, and now and then a long pause.
    now += match rng.below(10) {
      0..=3 => 0,
      4..=8 => rng.below(p.window_ms / 4 + 1),
      _ => rng.below(3 * p.window_ms),
    };
    let cost = 1 + rng.below(cap.min(4));
    let peek = rng.below(6) == 0;
    let kept = stored.map(|(s, _)| s);
    let before = stored.filter(|&(_, exp)| exp > now).map(|(s, _)| s);
    let (next, outcome) = algorithm.run(before.as_ref(), now, p, cost, peek);
    // Redis may not have expired the key yet: the answer must be the same.
    assert_eq!(
      algorithm.run(kept.as_ref(), now, p, cost, peek).1,
      outcome,
      "{algorithm:?} {p:?}: an expired state must read like a missing one"
    );
    if let Some(s) = next {
      stored = Some((s, now + outcome.reset_ms));
    }
    calls.push(Call {
      now,
      cost,
      peek,
      before,
      after: next.or(before),
      outcome,
    });
  }
  calls
}

fn peek_at(
  algorithm: Algorithm,
  state: Option<&State>,
  now: u64,
  p: &Params,
  cost: u64,
) -> Outcome {
  algorithm.run(state, now, p, cost, true).1
}

fn each_sequence(mut check: impl FnMut(Algorithm, &Params, &[Call])) {
  for algorithm in ALL {
    for (limit, window, burst) in PARAMS {
      let p = Params::new(limit, window, burst).expect("valid params");
      for seed in [1, 7, 0x5eed, 0xdead_beef] {
        check(algorithm, &p, &replay(algorithm, &p, seed, 1500));
      }
    }
  }
}

#[test]
fn peeks_and_denials_write_nothing() {
  each_sequence(|algorithm, p, calls| {
    for c in calls {
      let (next, _) = algorithm.run(c.before.as_ref(), c.now, p, c.cost, c.peek);
      assert_eq!(
        next.is_some(),
        c.outcome.allowed && !c.peek,
        "{algorithm:?} {p:?}"
      );
    }
  });
}

#[test]
fn retry_after_is_the_first_ms_the_same_request_fits() {
  each_sequence(|algorithm, p, calls| {
    for c in calls {
      let r = c.outcome.retry_after_ms;
      if c.outcome.allowed {
        assert_eq!(r, 0);
        continue;
      }
      let what = format!("{algorithm:?} {p:?} at {} cost {}", c.now, c.cost);
      assert!(r > 0, "{what}");
      assert!(
        peek_at(algorithm, c.before.as_ref(), c.now + r, p, c.cost).allowed,
        "{what}: still denied after retry_after_ms {r}"
      );
      assert!(
        !peek_at(algorithm, c.before.as_ref(), c.now + r - 1, p, c.cost).allowed,
        "{what}: admitted before retry_after_ms {r}"
      );
    }
  });
}

#[test]
fn reset_is_the_first_ms_the_limiter_is_full() {
  each_sequence(|algorithm, p, calls| {
    let cap = algorithm.capacity(p);
    for c in calls {
      let r = c.outcome.reset_ms;
      let what = format!("{algorithm:?} {p:?} at {}", c.now);
      assert_eq!(
        peek_at(algorithm, c.after.as_ref(), c.now + r, p, 1).remaining,
        cap,
        "{what}: not full after reset_ms {r}"
      );
      if r > 0 {
        assert!(
          peek_at(algorithm, c.after.as_ref(), c.now + r - 1, p, 1).remaining < cap,
          "{what}: full before reset_ms {r}"
        );
      }
      // What a consume reports left is what a peek right after sees.
      assert_eq!(
        peek_at(algorithm, c.after.as_ref(), c.now, p, 1).remaining,
        c.outcome.remaining,
        "{what}"
      );
    }
  });
}

#[test]
fn reported_times_stay_within_their_bounds() {
  each_sequence(|algorithm, p, calls| {
    let w = p.window_ms;
    let bucket = p.burst * w;
    let (max_reset, max_retry) = match algorithm {
      Algorithm::FixedWindow => (w, w),
      Algorithm::SlidingWindow => (2 * w, 2 * w),
      Algorithm::TokenBucket | Algorithm::Gcra => {
        (bucket.div_ceil(p.limit), bucket.div_ceil(p.limit))
      }
    };
    for c in calls {
      assert!(c.outcome.remaining <= algorithm.capacity(p));
      assert!(c.outcome.reset_ms <= max_reset, "{algorithm:?} {p:?}");
      assert!(c.outcome.retry_after_ms <= max_retry, "{algorithm:?} {p:?}");
    }
  });
}

/// (time, cost) of every admitted consume.
fn admitted(calls: &[Call]) -> Vec<(u64, u64)> {
  calls
    .iter()
    .filter(|c| c.outcome.allowed && !c.peek)
    .map(|c| (c.now, c.cost))
    .collect()
}

#[test]
fn nothing_is_admitted_beyond_the_bound() {
  each_sequence(|algorithm, p, calls| {
    let (l, w, b) = (p.limit, p.window_ms, p.burst);
    let admitted = admitted(calls);
    for (i, &(t0, _)) in admitted.iter().enumerate() {
      let mut sum = 0;
      for &(t1, cost) in &admitted[i..] {
        let d = t1 - t0;
        sum += cost;
        match algorithm {
          Algorithm::FixedWindow | Algorithm::SlidingWindow if t0 / w == t1 / w => {
            assert!(sum <= l, "{algorithm:?} {p:?}: {sum} in one aligned window");
          }
          _ => {}
        }
        match algorithm {
          Algorithm::FixedWindow => {}
          // The README's bound: at most limit × (1 + d / window) in d ≤ window ms.
          Algorithm::SlidingWindow if d < w => {
            assert!(sum * w <= l * w + l * d, "{p:?}: {sum} in {d} ms");
          }
          Algorithm::SlidingWindow => {}
          Algorithm::TokenBucket | Algorithm::Gcra => {
            assert!(
              sum * w <= b * w + l * d,
              "{algorithm:?} {p:?}: {sum} in {d} ms"
            );
          }
        }
      }
    }
  });
}

#[test]
fn gcra_admits_exactly_what_the_token_bucket_admits() {
  for (limit, window, burst) in PARAMS {
    let p = Params::new(limit, window, burst).expect("valid params");
    for seed in [3, 11, 0xfeed] {
      let tb = replay(Algorithm::TokenBucket, &p, seed, 3000);
      let gcra = replay(Algorithm::Gcra, &p, seed, 3000);
      for (a, b) in tb.iter().zip(&gcra) {
        assert_eq!(a.outcome, b.outcome, "{p:?} at {}", a.now);
      }
    }
  }
}

#[test]
fn params_are_validated() {
  assert!(Params::new(0, 1000, 1).is_err());
  assert!(Params::new(1, 0, 1).is_err());
  assert!(Params::new(1, 1000, 0).is_err());
  assert!(Params::new(1 << 40, 1 << 10, 1).is_ok());
  assert!(Params::new(1 << 40, (1 << 10) + 1, 1).is_err());
  assert!(Params::new(1, 1 << 20, (1 << 30) + 1).is_err());
  assert!(Params::new(u64::MAX, u64::MAX, 1).is_err());
}

#[test]
fn algorithms_by_name() {
  for (name, algorithm) in [
    ("fixed-window", Algorithm::FixedWindow),
    ("sliding-window", Algorithm::SlidingWindow),
    ("token-bucket", Algorithm::TokenBucket),
    ("gcra", Algorithm::Gcra),
  ] {
    assert_eq!(Algorithm::from_name(name), Ok(algorithm));
  }
  assert_eq!(
    Algorithm::from_name("leaky").map_err(|e| e.kind()),
    Err(crate::error::Kind::InvalidArgument)
  );
}

#[test]
fn extreme_inputs_never_panic() {
  let p = Params::new(1 << 20, 1 << 30, 1 << 20).expect("valid params");
  let states = [
    None,
    Some(State::FixedWindow(FixedWindow {
      window_start_ms: u64::MAX,
      count: u64::MAX,
    })),
    Some(State::SlidingWindow(SlidingWindow {
      window_start_ms: u64::MAX,
      count: u64::MAX,
      previous: u64::MAX,
    })),
    Some(State::TokenBucket(TokenBucket {
      tokens: u64::MAX,
      updated_ms: 0,
    })),
    Some(State::Gcra(Gcra {
      tat_ms: u64::MAX,
      tat_frac: u64::MAX,
    })),
  ];
  for algorithm in ALL {
    for state in &states {
      for now in [0, 1, u64::MAX / 2, u64::MAX] {
        for cost in [1, u64::MAX] {
          let _ = algorithm.run(state.as_ref(), now, &p, cost, false);
        }
      }
    }
  }
}
