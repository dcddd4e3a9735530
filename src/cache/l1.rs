//! The L1 tier's bookkeeping: which keys the JS layer may serve from its own
//! parsed copies.
//!
//! JS keeps each parsed value in a `Map` with the expiry `insert` decided.
//! Rust keeps everything else (size, expiry, recency, bounds, tags) and
//! journals every key that leaves the tier, which JS drains after each of its
//! own calls and whenever Rust signals a removal made off the JS thread. So an
//! L1 hit costs no native call at all; recency arrives in batches (`touch`),
//! and no value bytes ever cross the boundary.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use crate::clock::Clock;
use crate::config::LocalConfig;
use crate::glob;
use crate::metrics::LocalStats;

/// Keys whose parsed copies JS must drop.
#[derive(Debug, PartialEq, Eq)]
pub enum Removed {
  Keys(Vec<String>),
  /// More keys left than the journal may hold: drop every copy.
  All,
}

/// The L1 tier's metadata: a bounded LRU of versions, sizes, expiries and tags.
///
/// Staleness: an entry is never reported valid after its ttl, the smaller of
/// the caller's (the Redis TTL) and [`LocalConfig::ttl_ms`]. Expired entries
/// are not removed ahead of time, though. As in lru-cache, they keep their
/// space until a lookup finds them (and drops them) or eviction reaches them.
///
/// All state sits behind one mutex. Calls come from the JS thread and from
/// tokio tasks, and each holds the lock for a short update. The exceptions
/// are `remove_matching` and `clear`, which walk the whole tier.
pub struct LocalTier {
  config: LocalConfig,
  clock: Arc<dyn Clock>,
  state: Mutex<State>,
}

struct Entry {
  bytes: usize,
  expires_at: u64,
  tags: Vec<String>,
}

struct State {
  entries: LruCache<String, Entry>,
  /// Tag -> keys carrying it. Kept exact: no empty sets, no absent keys.
  tags: HashMap<String, HashSet<String>>,
  bytes: usize,
  evictions: u64,
  journal: Journal,
}

/// Keys that left the tier since JS last asked. Invariant: none of them is in
/// the tier, so JS may always drop its copies of them. Past `cap` keys it
/// stops listing them and just remembers that JS must drop everything.
struct Journal {
  keys: HashSet<String>,
  cap: usize,
  overflowed: bool,
}

impl LocalTier {
  pub fn new(config: LocalConfig, clock: Arc<dyn Clock>) -> Self {
    let state = State {
      entries: LruCache::unbounded(),
      tags: HashMap::new(),
      bytes: 0,
      evictions: 0,
      journal: Journal {
        keys: HashSet::new(),
        cap: config.max_entries,
        overflowed: false,
      },
    };
    LocalTier {
      config,
      clock,
      state: Mutex::new(state),
    }
  }

  /// Records `key` as cached with a value of `value_bytes` bytes for `ttl_ms`
  /// (capped by the tier's ttl), replacing any earlier entry of `key`. Returns
  /// the TTL the entry got, which JS keeps beside its copy as its expiry.
  /// Returns `None` when the entry must not be cached: `ttl_ms` is 0, the
  /// entry alone (key plus value) exceeds `max_bytes`, or `max_entries` is 0.
  /// Any old entry of `key` is removed then, since JS's copy of it is outdated.
  /// Least recently used entries are evicted until both bounds hold.
  pub fn insert(&self, key: &str, value_bytes: usize, ttl_ms: u64, tags: &[String]) -> Option<u64> {
    let ttl_ms = ttl_ms.min(self.config.ttl_ms);
    let bytes = key.len().saturating_add(value_bytes);
    let mut state = self.state();
    if ttl_ms == 0 || bytes > self.config.max_bytes || self.config.max_entries == 0 {
      state.remove(key);
      return None;
    }
    // JS overwrites its copy of a replaced entry, so replacing is not journaled.
    if let Some(old) = state.entries.pop(key) {
      state.unlink(key, &old);
    }
    state.journal.readmit(key);
    // Evict before adding so that the byte count never overflows.
    while state.entries.len() >= self.config.max_entries
      || state.bytes > self.config.max_bytes - bytes
    {
      let Some((old_key, old)) = state.entries.pop_lru() else {
        break;
      };
      state.discard(old_key, &old);
      state.evictions += 1;
    }
    let mut tags = tags.to_vec();
    tags.sort_unstable();
    tags.dedup();
    for tag in &tags {
      state
        .tags
        .entry(tag.clone())
        .or_default()
        .insert(key.to_owned());
    }
    state.bytes += bytes;
    let expires_at = self.clock.now_ms().saturating_add(ttl_ms);
    let entry = Entry {
      bytes,
      expires_at,
      tags,
    };
    state.entries.push(key.to_owned(), entry);
    Some(ttl_ms)
  }

  /// Marks `keys` as recently used: the hits JS served since its last call.
  /// An expired entry found here is removed (and journaled).
  pub fn touch<S: AsRef<str>>(&self, keys: &[S]) {
    let mut state = self.state();
    let now = self.clock.now_ms();
    for key in keys {
      let key = key.as_ref();
      match state.entries.peek(key).map(|e| e.expires_at <= now) {
        Some(true) => {
          state.remove(key);
        }
        Some(false) => {
          state.entries.promote(key);
        }
        None => {}
      }
    }
  }

  /// Whether `key` holds a live entry, without changing recency. An expired
  /// entry found here is removed.
  #[cfg(test)]
  pub fn live(&self, key: &str) -> bool {
    self.ttl_ms(key).is_some()
  }

  /// Remaining L1 lifetime in ms of a live entry (tests pin TTL edges with
  /// it). An expired entry found here is removed.
  #[cfg(test)]
  pub fn ttl_ms(&self, key: &str) -> Option<u64> {
    let mut state = self.state();
    let now = self.clock.now_ms();
    let expires_at = state.entries.peek(key)?.expires_at;
    if expires_at <= now {
      state.remove(key);
      return None;
    }
    Some(expires_at - now)
  }

  #[cfg(test)]
  pub fn remove(&self, key: &str) -> bool {
    self.state().remove(key)
  }

  pub fn remove_many<S: AsRef<str>>(&self, keys: &[S]) -> usize {
    let mut state = self.state();
    keys.iter().filter(|key| state.remove(key.as_ref())).count()
  }

  /// Removes every entry whose key matches the Redis glob `pattern`, the same
  /// keys `SCAN MATCH` would select. Returns how many.
  pub fn remove_matching(&self, pattern: &str) -> usize {
    let mut state = self.state();
    let doomed: Vec<String> = state
      .entries
      .iter()
      .filter(|(key, _)| glob::matches(pattern.as_bytes(), key.as_bytes()))
      .map(|(key, _)| key.clone())
      .collect();
    doomed.iter().filter(|key| state.remove(key)).count()
  }

  /// Removes every entry carrying any of `tags`. Returns how many.
  pub fn remove_tags<S: AsRef<str>>(&self, tags: &[S]) -> usize {
    let mut state = self.state();
    let mut doomed = HashSet::new();
    for tag in tags {
      // Taking the set out leaves one less set for `unlink` to update.
      doomed.extend(state.tags.remove(tag.as_ref()).unwrap_or_default());
    }
    doomed.iter().filter(|key| state.remove(key)).count()
  }

  /// Removes every entry. Returns how many.
  pub fn clear(&self) -> usize {
    let mut state = self.state();
    let count = state.entries.len();
    while let Some((key, _)) = state.entries.pop_lru() {
      state.journal.push(key);
    }
    state.tags = HashMap::new();
    state.bytes = 0;
    count
  }

  /// Drains the keys that left the tier for any reason except being replaced
  /// by `insert`: eviction, expiry found by a lookup, a refused `insert`,
  /// `remove*` and `clear`. JS drops its copies of them, so its `Map` never
  /// grows beyond the tier. A key inserted again since it left is not listed.
  /// If more than `max_entries` keys left, the answer is [`Removed::All`].
  /// Entries the tier still holds then have no JS copy. They do no harm: the
  /// next miss on such a key replaces it, and LRU evicts the rest.
  pub fn take_removed(&self) -> Removed {
    self.state().journal.take()
  }

  pub fn stats(&self) -> LocalStats {
    let state = self.state();
    LocalStats {
      entries: state.entries.len(),
      bytes: state.bytes,
      evictions: state.evictions,
    }
  }

  fn state(&self) -> MutexGuard<'_, State> {
    // Nothing here panics with the lock held, so a poisoned state is still consistent.
    self.state.lock().unwrap_or_else(PoisonError::into_inner)
  }
}

impl State {
  /// Removes `key` for good and journals it. Returns whether it was present.
  fn remove(&mut self, key: &str) -> bool {
    match self.entries.pop_entry(key) {
      Some((key, entry)) => {
        self.discard(key, &entry);
        true
      }
      None => false,
    }
  }

  /// Accounts for an entry already taken out of `entries` that is gone for good.
  fn discard(&mut self, key: String, entry: &Entry) {
    self.unlink(&key, entry);
    self.journal.push(key);
  }

  /// Undoes the byte count and tag memberships of an entry taken out of `entries`.
  fn unlink(&mut self, key: &str, entry: &Entry) {
    self.bytes -= entry.bytes;
    for tag in &entry.tags {
      if let Some(keys) = self.tags.get_mut(tag) {
        keys.remove(key);
        if keys.is_empty() {
          self.tags.remove(tag);
        }
      }
    }
  }
}

impl Journal {
  /// `key` is back in the tier: a pending drop would discard JS's new copy.
  fn readmit(&mut self, key: &str) {
    self.keys.remove(key);
  }

  fn push(&mut self, key: String) {
    if self.overflowed {
      return;
    }
    self.keys.insert(key);
    if self.keys.len() > self.cap {
      self.overflowed = true;
      self.keys = HashSet::new();
    }
  }

  fn take(&mut self) -> Removed {
    if std::mem::take(&mut self.overflowed) {
      Removed::All
    } else {
      Removed::Keys(self.keys.drain().collect())
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::sync::atomic::{AtomicU64, Ordering};

  #[derive(Default)]
  struct FakeClock(AtomicU64);

  impl FakeClock {
    fn advance(&self, ms: u64) {
      self.0.fetch_add(ms, Ordering::SeqCst);
    }
  }

  impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
      self.0.load(Ordering::SeqCst)
    }
  }

  fn tier(max_entries: usize, max_bytes: usize, ttl_ms: u64) -> (LocalTier, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::default());
    let config = LocalConfig {
      max_entries,
      max_bytes,
      ttl_ms,
    };
    (LocalTier::new(config, clock.clone()), clock)
  }

  fn tags(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
  }

  fn put(tier: &LocalTier, key: &str, value_bytes: usize, tag_names: &[&str]) {
    let ttl = tier.insert(key, value_bytes, 10_000, &tags(tag_names));
    assert!(ttl.is_some(), "{key} was refused");
  }

  /// A hit as JS reports it: a touch, then the entry must still be live.
  fn hit(tier: &LocalTier, key: &str) -> bool {
    tier.touch(&[key]);
    tier.live(key)
  }

  fn removed(tier: &LocalTier) -> Vec<String> {
    match tier.take_removed() {
      Removed::Keys(mut keys) => {
        keys.sort();
        keys
      }
      Removed::All => panic!("journal overflowed"),
    }
  }

  /// Tag -> sorted keys, to check that the index is exact.
  fn tag_index(tier: &LocalTier) -> Vec<(String, Vec<String>)> {
    let state = tier.state();
    let mut index: Vec<_> = state
      .tags
      .iter()
      .map(|(tag, keys)| {
        let mut keys: Vec<String> = keys.iter().cloned().collect();
        keys.sort();
        (tag.clone(), keys)
      })
      .collect();
    index.sort();
    index
  }

  fn index_of(entries: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    entries
      .iter()
      .map(|(tag, keys)| (tag.to_string(), tags(keys)))
      .collect()
  }

  #[test]
  fn the_tier_ttl_caps_the_callers() {
    let (tier, _) = tier(10, 1_000, 1_000);
    tier.insert("long", 1, 5_000, &[]);
    tier.insert("short", 1, 300, &[]);
    assert_eq!(tier.ttl_ms("long"), Some(1_000));
    assert_eq!(tier.ttl_ms("short"), Some(300));
  }

  #[test]
  fn an_entry_expires_exactly_at_its_ttl() {
    let (tier, clock) = tier(10, 1_000, 1_000);
    put(&tier, "k", 5, &["t"]);
    clock.advance(999);
    assert!(hit(&tier, "k"));
    assert_eq!(tier.ttl_ms("k"), Some(1));
    clock.advance(1);
    assert_eq!(
      tier.stats().entries,
      1,
      "expired entries are not removed ahead of time"
    );
    assert!(!tier.live("k"));
    assert_eq!(tier.stats(), LocalStats::default());
    assert_eq!(tag_index(&tier), index_of(&[]));
    assert_eq!(removed(&tier), tags(&["k"]));
  }

  #[test]
  fn ttl_ms_drops_an_expired_entry_it_finds() {
    let (tier, clock) = tier(10, 1_000, 1_000);
    put(&tier, "k", 5, &[]);
    clock.advance(10_000);
    assert_eq!(tier.ttl_ms("k"), None);
    assert_eq!(tier.stats().entries, 0);
    assert_eq!(removed(&tier), tags(&["k"]));
  }

  #[test]
  fn a_zero_ttl_is_not_cached_and_drops_the_old_entry() {
    let (tier, _) = tier(10, 1_000, 1_000);
    put(&tier, "k", 5, &["t"]);
    assert_eq!(tier.insert("k", 5, 0, &[]), None);
    assert!(!hit(&tier, "k"));
    assert_eq!(tier.stats(), LocalStats::default());
    assert_eq!(tag_index(&tier), index_of(&[]));
    assert_eq!(removed(&tier), tags(&["k"]));
  }

  #[test]
  fn replacing_fixes_bytes_and_tags_without_journaling() {
    let (tier, _) = tier(10, 1_000, 1_000);
    put(&tier, "k", 10, &["a", "b"]);
    put(&tier, "k", 20, &["b", "c", "c"]);
    let stats = tier.stats();
    assert_eq!((stats.entries, stats.bytes, stats.evictions), (1, 21, 0));
    assert_eq!(tag_index(&tier), index_of(&[("b", &["k"]), ("c", &["k"])]));
    assert_eq!(removed(&tier), Vec::<String>::new());
    assert_eq!(tier.remove_tags(&["a"]), 0);
    assert_eq!(tier.remove_tags(&["c"]), 1);
  }

  #[test]
  fn max_entries_evicts_the_least_recently_used() {
    let (tier, _) = tier(3, 1_000, 1_000);
    put(&tier, "a", 1, &[]);
    put(&tier, "b", 1, &[]);
    put(&tier, "c", 1, &[]);
    // A hit makes `a` most recently used; a peek leaves `b` the oldest.
    assert!(hit(&tier, "a"));
    assert!(tier.live("b"));
    put(&tier, "d", 1, &[]);
    assert_eq!(removed(&tier), tags(&["b"]));
    put(&tier, "e", 1, &[]);
    assert_eq!(removed(&tier), tags(&["c"]));
    assert!(tier.live("a"));
    assert_eq!(tier.stats().evictions, 2);
  }

  #[test]
  fn max_bytes_evicts_the_least_recently_used() {
    let (tier, _) = tier(100, 100, 1_000);
    put(&tier, "a", 39, &[]);
    put(&tier, "b", 39, &[]);
    assert!(hit(&tier, "a"));
    put(&tier, "c", 39, &[]);
    assert_eq!(removed(&tier), tags(&["b"]));
    assert_eq!(tier.stats().bytes, 80);
    put(&tier, "big", 97, &[]);
    assert_eq!(removed(&tier), tags(&["a", "c"]));
    let stats = tier.stats();
    assert_eq!((stats.entries, stats.bytes, stats.evictions), (1, 100, 3));
  }

  #[test]
  fn an_entry_larger_than_the_tier_is_refused() {
    let (tier, _) = tier(10, 100, 1_000);
    put(&tier, "k", 10, &["t"]);
    put(&tier, "other", 10, &[]);
    assert_eq!(tier.insert("k", 100, 1_000, &[]), None);
    assert_eq!(tier.stats().entries, 1);
    assert_eq!(tier.stats().evictions, 0);
    assert_eq!(tag_index(&tier), index_of(&[]));
    assert_eq!(removed(&tier), tags(&["k"]));
  }

  #[test]
  fn a_tier_without_room_for_entries_caches_nothing() {
    let (tier, _) = tier(0, 1_000, 1_000);
    assert_eq!(tier.insert("k", 1, 1_000, &[]), None);
    assert_eq!(tier.stats(), LocalStats::default());
  }

  #[test]
  fn remove_matching_follows_redis_globs() {
    let (tier, _) = tier(10, 1_000, 1_000);
    for key in ["user:1", "user:2", "user:10", "order:1", "user:*"] {
      put(&tier, key, 1, &["t"]);
    }
    assert_eq!(tier.remove_matching("user:?"), 3);
    assert_eq!(removed(&tier), tags(&["user:*", "user:1", "user:2"]));
    assert_eq!(tier.remove_matching("user:\\*"), 0);
    assert_eq!(tier.remove_matching("*:1*"), 2);
    assert_eq!(tier.stats(), LocalStats::default());
    assert_eq!(tag_index(&tier), index_of(&[]));
  }

  #[test]
  fn remove_tags_removes_each_shared_key_once() {
    let (tier, _) = tier(10, 1_000, 1_000);
    put(&tier, "k1", 1, &["a"]);
    put(&tier, "k2", 1, &["a", "b"]);
    put(&tier, "k3", 1, &["b", "c"]);
    put(&tier, "k4", 1, &["c"]);
    assert_eq!(tier.remove_tags(&["a", "b", "missing"]), 3);
    assert_eq!(removed(&tier), tags(&["k1", "k2", "k3"]));
    assert_eq!(tag_index(&tier), index_of(&[("c", &["k4"])]));
    assert_eq!(tier.stats().entries, 1);
  }

  #[test]
  fn every_removal_path_cleans_the_tag_index() {
    let (tier, clock) = tier(2, 1_000, 1_000);
    let empty = index_of(&[]);
    put(&tier, "k", 1, &["t", "u"]);
    assert!(tier.remove("k"));
    assert!(!tier.remove("k"));
    assert_eq!(tag_index(&tier), empty);

    put(&tier, "k", 1, &["t"]);
    assert_eq!(tier.remove_many(&["k", "k", "absent"]), 1);
    assert_eq!(tag_index(&tier), empty);

    put(&tier, "k", 1, &["t"]);
    put(&tier, "j", 1, &["t"]);
    assert_eq!(tier.clear(), 2);
    assert_eq!(tag_index(&tier), empty);

    put(&tier, "k", 1, &["t"]);
    put(&tier, "j", 1, &["u"]);
    put(&tier, "i", 1, &[]);
    assert_eq!(tag_index(&tier), index_of(&[("u", &["j"])]));

    put(&tier, "k", 1, &["t"]);
    clock.advance(10_000);
    assert!(!hit(&tier, "k"));
    assert_eq!(tag_index(&tier), empty);
    assert_eq!(tier.stats().bytes, 2);
  }

  #[test]
  fn the_journal_lists_departures_until_it_overflows() {
    let (tier, _) = tier(2, 1_000, 1_000);
    assert_eq!(tier.take_removed(), Removed::Keys(Vec::new()));
    put(&tier, "a", 1, &[]);
    put(&tier, "b", 1, &[]);
    tier.remove("a");
    assert_eq!(removed(&tier), tags(&["a"]));
    assert_eq!(removed(&tier), Vec::<String>::new());

    // A key inserted again is not listed: JS holds its new copy.
    tier.remove("b");
    put(&tier, "b", 1, &[]);
    assert_eq!(removed(&tier), Vec::<String>::new());

    // Three departures exceed max_entries (2): JS must drop everything.
    put(&tier, "a", 1, &[]);
    assert_eq!(tier.clear(), 2);
    put(&tier, "c", 1, &[]);
    tier.remove("c");
    put(&tier, "d", 1, &[]);
    assert_eq!(tier.take_removed(), Removed::All);
    assert_eq!(tier.take_removed(), Removed::Keys(Vec::new()));
    assert!(tier.live("d"));
  }

  #[test]
  fn stats_count_entries_bytes_and_capacity_evictions_only() {
    let (tier, clock) = tier(2, 1_000, 1_000);
    put(&tier, "ab", 10, &[]);
    put(&tier, "c", 5, &[]);
    assert_eq!(
      tier.stats(),
      LocalStats {
        entries: 2,
        bytes: 18,
        evictions: 0
      }
    );
    put(&tier, "d", 1, &[]);
    assert_eq!(
      tier.stats(),
      LocalStats {
        entries: 2,
        bytes: 8,
        evictions: 1
      }
    );
    tier.remove("d");
    clock.advance(10_000);
    assert_eq!(tier.ttl_ms("c"), None);
    assert_eq!(
      tier.stats(),
      LocalStats {
        entries: 0,
        bytes: 0,
        evictions: 1
      }
    );
  }

  #[test]
  fn a_poisoned_lock_is_recovered() {
    let (tier, _) = tier(10, 1_000, 1_000);
    let poison = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
      let _guard = tier.state.lock();
      panic!("poison the lock");
    }));
    assert!(poison.is_err());
    put(&tier, "k", 1, &[]);
    assert!(hit(&tier, "k"));
  }

  #[test]
  fn the_tier_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<LocalTier>();
  }
}
