//! The per-process limiter behind `onRedisError: 'local'`: the same algorithms
//! over bounded, process-wide tables of states keyed by the full Redis key,
//! on this host's clock. Every client of the process shares them, as every
//! process shares Redis.
//!
//! - One table per limiter name (its key head, keyPrefix included; limiters
//!   sharing a name share counts in Redis, and here), bounded by the
//!   limiter's `localMaxIds` (default 65,536): ids rotated through one limiter
//!   during an outage cannot push another limiter's counts out.
//! - When a table is full, its least recently used id (the one whose last
//!   call is oldest) is forgotten: it starts again from a full limiter. So an
//!   attacker who sends more new ids than the bound between two calls of a
//!   victim's id resets the victim's count; the bound is what it costs.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use lru::LruCache;

use super::{Algorithm, Outcome, Params, State};

/// Ids a table holds by default (about 100 bytes each plus the key).
pub const DEFAULT_MAX_IDS: usize = 65_536;

struct Entry {
  state: State,
  expires_at_ms: u64,
}

/// Which table a call uses, and its bound.
pub struct Table<'a> {
  /// The limiter's key head, `<keyPrefix>ratelimit:{<name>:`.
  pub name: &'a str,
  pub max_ids: usize,
}

type Tables = HashMap<String, LruCache<String, Entry>>;

fn store() -> &'static Mutex<Tables> {
  static STORE: OnceLock<Mutex<Tables>> = OnceLock::new();
  STORE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// One call for `key`; an expired state counts as none, as in Redis.
pub fn run(
  table: &Table<'_>,
  key: &str,
  algorithm: Algorithm,
  params: &Params,
  cost: u64,
  peek: bool,
  now_ms: u64,
) -> Outcome {
  let mut store = store().lock().unwrap_or_else(|e| e.into_inner());
  // Unbounded for the map itself (nothing allocated up front); `max_ids` bounds it below.
  let ids = store
    .entry(table.name.to_string())
    .or_insert_with(LruCache::unbounded);
  let state = ids
    .get(key)
    .filter(|e| e.expires_at_ms > now_ms)
    .map(|e| e.state);
  let (next, outcome) = algorithm.run(state.as_ref(), now_ms, params, cost, peek);
  if let Some(state) = next {
    if !ids.contains(key) {
      while ids.len() >= table.max_ids.max(1) {
        ids.pop_lru();
      }
    }
    let expires_at_ms = now_ms.saturating_add(outcome.reset_ms);
    ids.put(
      key.to_string(),
      Entry {
        state,
        expires_at_ms,
      },
    );
  }
  outcome
}

/// Forgets `key` (a full key names its limiter: only one table holds it).
pub fn forget(key: &str) {
  let mut store = store().lock().unwrap_or_else(|e| e.into_inner());
  for ids in store.values_mut() {
    ids.pop(key);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  const TABLE: Table<'static> = Table {
    name: "local-test:",
    max_ids: DEFAULT_MAX_IDS,
  };

  #[test]
  fn counts_per_key_until_forgotten() {
    let p = Params::new(2, 1000, 2).expect("valid params");
    let a = "local-test:{a}";
    let b = "local-test:{b}";
    let fw = Algorithm::FixedWindow;
    assert!(run(&TABLE, a, fw, &p, 2, false, 500).allowed);
    assert!(!run(&TABLE, a, fw, &p, 1, false, 600).allowed);
    assert!(run(&TABLE, b, fw, &p, 1, false, 600).allowed);
    forget(a);
    assert_eq!(run(&TABLE, a, fw, &p, 1, true, 700).remaining, 2);
  }

  #[test]
  fn an_expired_state_is_dropped() {
    let p = Params::new(1, 1000, 1).expect("valid params");
    let key = "local-test:{expiry}";
    let tb = Algorithm::TokenBucket;
    let first = run(&TABLE, key, tb, &p, 1, false, 10_000);
    assert_eq!(first.reset_ms, 1000);
    assert!(!run(&TABLE, key, tb, &p, 1, false, 10_999).allowed);
    assert!(run(&TABLE, key, tb, &p, 1, false, 11_000).allowed);
  }

  #[test]
  fn a_full_table_forgets_its_least_recently_used_id_and_no_other_tables() {
    let p = Params::new(1, 60_000, 1).expect("valid params");
    let fw = Algorithm::FixedWindow;
    let small = Table {
      name: "local-test-small:",
      max_ids: 2,
    };
    let other = Table {
      name: "local-test-other:",
      max_ids: 2,
    };
    let allowed = |table: &Table<'_>, key: &str| run(table, key, fw, &p, 1, false, 1_000).allowed;
    assert!(allowed(&other, "local-test-other:{victim}"));
    assert!(allowed(&small, "local-test-small:{victim}"));
    assert!(allowed(&small, "local-test-small:{a}"));
    // The victim is used again: `a` is now the least recently used.
    assert!(!allowed(&small, "local-test-small:{victim}"));
    assert!(allowed(&small, "local-test-small:{b}"));
    assert!(allowed(&small, "local-test-small:{a}"), "a was forgotten");
    // Two new ids since the victim's last call: it was forgotten, counts start again.
    assert!(allowed(&small, "local-test-small:{victim}"));
    // The other table kept its own victim.
    assert!(!allowed(&other, "local-test-other:{victim}"));
  }
}
