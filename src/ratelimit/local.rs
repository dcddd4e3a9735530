//! The per-process limiter behind `onRedisError: 'local'`: the same algorithms
//! over a bounded, process-wide map of states keyed by the full Redis key,
//! on this host's clock. Every client of the process shares it, as every
//! process shares Redis. When the map is full the least recently used id is
//! forgotten (it starts again from a full limiter).

use std::num::NonZeroUsize;
use std::sync::{Mutex, OnceLock};

use lru::LruCache;

use super::{Algorithm, Outcome, Params, State};

/// At most this many ids are tracked at once (about 100 bytes each plus the key).
const MAX_IDS: usize = 65_536;

struct Entry {
  state: State,
  expires_at_ms: u64,
}

fn store() -> &'static Mutex<LruCache<String, Entry>> {
  static STORE: OnceLock<Mutex<LruCache<String, Entry>>> = OnceLock::new();
  STORE.get_or_init(|| {
    let cap = NonZeroUsize::new(MAX_IDS).unwrap_or(NonZeroUsize::MIN);
    Mutex::new(LruCache::new(cap))
  })
}

/// One call for `key`; an expired state counts as none, as in Redis.
pub fn run(
  key: &str,
  algorithm: Algorithm,
  params: &Params,
  cost: u64,
  peek: bool,
  now_ms: u64,
) -> Outcome {
  let mut store = store().lock().unwrap_or_else(|e| e.into_inner());
  let state = store
    .get(key)
    .filter(|e| e.expires_at_ms > now_ms)
    .map(|e| e.state);
  let (next, outcome) = algorithm.run(state.as_ref(), now_ms, params, cost, peek);
  if let Some(state) = next {
    let expires_at_ms = now_ms.saturating_add(outcome.reset_ms);
    store.put(
      key.to_string(),
      Entry {
        state,
        expires_at_ms,
      },
    );
  }
  outcome
}

pub fn forget(key: &str) {
  store().lock().unwrap_or_else(|e| e.into_inner()).pop(key);
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn counts_per_key_until_forgotten() {
    let p = Params::new(2, 1000, 2).expect("valid params");
    let a = "local-test:{a}";
    let b = "local-test:{b}";
    let fw = Algorithm::FixedWindow;
    assert!(run(a, fw, &p, 2, false, 500).allowed);
    assert!(!run(a, fw, &p, 1, false, 600).allowed);
    assert!(run(b, fw, &p, 1, false, 600).allowed);
    forget(a);
    assert_eq!(run(a, fw, &p, 1, true, 700).remaining, 2);
  }

  #[test]
  fn an_expired_state_is_dropped() {
    let p = Params::new(1, 1000, 1).expect("valid params");
    let key = "local-test:{expiry}";
    let tb = Algorithm::TokenBucket;
    let first = run(key, tb, &p, 1, false, 10_000);
    assert_eq!(first.reset_ms, 1000);
    assert!(!run(key, tb, &p, 1, false, 10_999).allowed);
    assert!(run(key, tb, &p, 1, false, 11_000).allowed);
  }
}
