//! The keyspace of the embedded backend: values with millisecond expiry,
//! an optional byte bound with least-recently-used eviction, and a stable
//! order for SCAN.
//!
//! - Expiry is checked on every access, so an expired key is gone at once;
//!   an index of deadlines lets [`Store::sweep`] reclaim the keys nobody
//!   reads, a bounded number per call (Redis' active expiry, without a timer).
//! - Every key gets a sequence number when it is created. SCAN walks keys in
//!   that order and its cursor is the next number to visit, so a full scan
//!   returns every key that exists from its start to its end, exactly once.
//! - Eviction pops the least recently used key until the bound holds again
//!   (Redis' `allkeys-lru`), keeping the most recent one even when it alone
//!   is over the bound, as Redis keeps a value written below its limit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lru::LruCache;

use super::script::Scripts;
use super::value::Value;
use crate::clock::Clock;
use crate::error::Result;

/// Bytes counted per key besides its name and value (Redis' dict entry,
/// object header and expiry slot are about this size).
pub const ENTRY_OVERHEAD: usize = 64;

type Key = Arc<[u8]>;

struct Entry {
  value: Value,
  /// Absolute deadline in the clock's milliseconds.
  expires_at: Option<u64>,
  seq: u64,
  bytes: usize,
}

/// What a write does to the key's time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
  /// The key no longer expires (a plain SET).
  Clear,
  /// The key keeps its deadline (SET KEEPTTL, INCR, list and hash writes).
  Keep,
  /// The key expires at this time; a time already passed deletes it.
  At(u64),
}

/// Counters for INFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
  pub hits: u64,
  pub misses: u64,
  pub expired: u64,
  pub evicted: u64,
}

pub struct Store {
  entries: LruCache<Key, Entry>,
  /// Sequence number -> key: SCAN's order.
  order: BTreeMap<u64, Key>,
  /// (deadline, sequence number) of every key with a TTL.
  deadlines: BTreeSet<(u64, u64)>,
  next_seq: u64,
  used: usize,
  max_bytes: Option<usize>,
  clock: Arc<dyn Clock>,
  /// The scripts EVAL / EVALSHA run (`script.rs`).
  scripts: &'static dyn Scripts,
  /// The time commands see: read once per command (once per EXEC).
  now: u64,
  stats: Stats,
  /// Set when an element was pushed to a list, so blocked pops get woken.
  pushed: bool,
  /// Keys changed since `take_changes`, collected only while a client's L1
  /// follows this store (`memory.rs`).
  changes: Option<Changes>,
}

/// What changed in the store: written, expired, evicted or deleted keys.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
  pub keys: Vec<Vec<u8>>,
  /// Every key (FLUSHALL): `keys` is left empty.
  pub flushed: bool,
}

impl Store {
  pub fn new(
    clock: Arc<dyn Clock>,
    max_bytes: Option<usize>,
    scripts: &'static dyn Scripts,
  ) -> Self {
    let now = clock.now_ms();
    Store {
      entries: LruCache::unbounded(),
      order: BTreeMap::new(),
      deadlines: BTreeSet::new(),
      next_seq: 1,
      used: 0,
      max_bytes,
      clock,
      scripts,
      now,
      stats: Stats::default(),
      pushed: false,
      changes: None,
    }
  }

  /// Starts or stops collecting the keys that change.
  pub fn collect_changes(&mut self, on: bool) {
    if on != self.changes.is_some() {
      self.changes = on.then(Changes::default);
    }
  }

  /// The changes collected since the last call, if any.
  pub fn take_changes(&mut self) -> Option<Changes> {
    let changes = self.changes.as_mut()?;
    if changes.keys.is_empty() && !changes.flushed {
      return None;
    }
    Some(std::mem::take(changes))
  }

  fn changed(&mut self, key: &[u8]) {
    if let Some(changes) = self.changes.as_mut().filter(|c| !c.flushed) {
      changes.keys.push(key.to_vec());
    }
  }

  /// Reads the clock: the time the next commands run at.
  pub fn tick(&mut self) {
    self.now = self.clock.now_ms();
  }

  /// Current time in milliseconds (Unix time for the backend's clock).
  pub fn now(&self) -> u64 {
    self.now
  }

  /// The scripts this store runs.
  pub fn scripts(&self) -> &'static dyn Scripts {
    self.scripts
  }

  pub fn stats(&self) -> Stats {
    self.stats
  }

  pub fn used_bytes(&self) -> usize {
    self.used
  }

  pub fn max_bytes(&self) -> Option<usize> {
    self.max_bytes
  }

  /// Number of keys, expired ones included until reclaimed.
  pub fn len(&self) -> usize {
    self.entries.len()
  }

  /// Number of keys with a TTL.
  pub fn volatile(&self) -> usize {
    self.deadlines.len()
  }

  /// Returns and clears the "an element was pushed" flag.
  pub fn take_pushed(&mut self) -> bool {
    std::mem::take(&mut self.pushed)
  }

  pub fn mark_pushed(&mut self) {
    self.pushed = true;
  }

  /// Whether `key` exists now; an expired key is deleted on the way.
  fn live(&mut self, key: &[u8]) -> bool {
    let now = self.now;
    let expired = match self.entries.peek(key) {
      None => return false,
      Some(e) => e.expires_at.is_some_and(|at| at <= now),
    };
    if expired {
      self.remove(key);
      self.stats.expired += 1;
    }
    !expired
  }

  /// A read: counts a keyspace hit or miss and marks the key recently used.
  pub fn read(&mut self, key: &[u8]) -> Option<&Value> {
    if !self.live(key) {
      self.stats.misses += 1;
      return None;
    }
    self.stats.hits += 1;
    self.entries.get(key).map(|e| &e.value)
  }

  /// Like `read`, without counting or touching (TYPE, TTL, EXISTS in spirit).
  pub fn peek(&mut self, key: &[u8]) -> Option<&Value> {
    if !self.live(key) {
      return None;
    }
    self.entries.peek(key).map(|e| &e.value)
  }

  /// The key's deadline: `None` when missing, `Some(None)` when persistent.
  pub fn deadline(&mut self, key: &[u8]) -> Option<Option<u64>> {
    if !self.live(key) {
      return None;
    }
    self.entries.peek(key).map(|e| e.expires_at)
  }

  /// Stores `value` at `key`, replacing any value of any type.
  pub fn set(&mut self, key: &[u8], value: Value, ttl: Ttl) {
    if matches!(ttl, Ttl::At(at) if at <= self.now) {
      self.remove(key);
      return;
    }
    self.changed(key);
    if !self.live(key) {
      let expires_at = match ttl {
        Ttl::At(at) => Some(at),
        Ttl::Clear | Ttl::Keep => None,
      };
      self.insert(key, value, expires_at);
      return;
    }
    let Some(entry) = self.entries.get_mut(key) else {
      return;
    };
    let old_at = entry.expires_at;
    let new_at = match ttl {
      Ttl::Clear => None,
      Ttl::Keep => old_at,
      Ttl::At(at) => Some(at),
    };
    let bytes = entry_bytes(key, &value);
    let (old_bytes, seq) = (entry.bytes, entry.seq);
    entry.value = value;
    entry.bytes = bytes;
    entry.expires_at = new_at;
    self.used = self.used - old_bytes + bytes;
    self.reindex(seq, old_at, new_at);
  }

  /// Changes the deadline of an existing key; false when it does not exist.
  /// A deadline already passed deletes the key (and returns true).
  pub fn set_deadline(&mut self, key: &[u8], at: Option<u64>) -> bool {
    if !self.live(key) {
      return false;
    }
    if at.is_some_and(|at| at <= self.now) {
      self.remove(key);
      return true;
    }
    self.changed(key);
    let Some(entry) = self.entries.peek_mut(key) else {
      return false;
    };
    let (seq, old) = (entry.seq, entry.expires_at);
    entry.expires_at = at;
    self.reindex(seq, old, at);
    true
  }

  /// Runs `f` on the value at `key`, created by `create` when missing (or
  /// `Ok(None)` without `create`), then accounts for its new size and drops
  /// the key if the value is left an empty collection.
  pub fn modify<R>(
    &mut self,
    key: &[u8],
    create: Option<fn() -> Value>,
    f: impl FnOnce(&mut Value) -> Result<R>,
  ) -> Result<Option<R>> {
    let created = !self.live(key);
    if created {
      match create {
        Some(make) => self.insert(key, make(), None),
        None => return Ok(None),
      }
    }
    let Some(entry) = self.entries.get_mut(key) else {
      return Ok(None);
    };
    let out = f(&mut entry.value);
    let drop = entry.value.is_empty() || (created && out.is_err());
    let bytes = entry_bytes(key, &entry.value);
    self.used = self.used - entry.bytes + bytes;
    entry.bytes = bytes;
    if out.is_ok() {
      self.changed(key);
    }
    if drop {
      self.remove(key);
    }
    out.map(Some)
  }

  /// Deletes `key`; true when it existed (and had not expired).
  pub fn delete(&mut self, key: &[u8]) -> bool {
    self.live(key) && self.remove(key)
  }

  pub fn flush(&mut self) {
    if let Some(changes) = self.changes.as_mut() {
      *changes = Changes {
        keys: Vec::new(),
        flushed: true,
      };
    }
    self.entries.clear();
    self.order.clear();
    self.deadlines.clear();
    self.used = 0;
  }

  /// Deletes up to `limit` keys whose deadline has passed, oldest first.
  pub fn sweep(&mut self, limit: usize) {
    for _ in 0..limit {
      let Some(&(at, seq)) = self.deadlines.first() else {
        return;
      };
      if at > self.now {
        return;
      }
      match self.order.get(&seq).cloned() {
        Some(key) => {
          self.remove(&key);
          self.stats.expired += 1;
        }
        // Unreachable while the indexes agree; never loop on a stale entry.
        None => {
          self.deadlines.remove(&(at, seq));
        }
      }
    }
  }

  /// Evicts least recently used keys while over `maxBytes`, keeping at least one.
  pub fn enforce_bound(&mut self) {
    let Some(max) = self.max_bytes else {
      return;
    };
    while self.used > max && self.entries.len() > 1 {
      let Some((key, entry)) = self.entries.pop_lru() else {
        return;
      };
      self.changed(&key);
      if entry.expires_at.is_some_and(|at| at <= self.now) {
        self.stats.expired += 1;
      } else {
        self.stats.evicted += 1;
      }
      self.unindex(&entry);
    }
  }

  /// One SCAN step: examines up to `count` keys from sequence number
  /// `cursor` on and returns the next cursor (0 at the end) and the live
  /// keys `keep` accepts.
  pub fn scan(
    &self,
    cursor: u64,
    count: usize,
    mut keep: impl FnMut(&[u8], &Value) -> bool,
  ) -> (u64, Vec<Vec<u8>>) {
    let mut keys = Vec::new();
    for (seen, (&seq, key)) in self.order.range(cursor..).enumerate() {
      if seen == count {
        return (seq, keys);
      }
      let Some(entry) = self.entries.peek(key) else {
        continue;
      };
      let live = entry.expires_at.is_none_or(|at| at > self.now);
      if live && keep(key, &entry.value) {
        keys.push(key.to_vec());
      }
    }
    (0, keys)
  }

  fn insert(&mut self, key: &[u8], value: Value, expires_at: Option<u64>) {
    let key: Key = Arc::from(key);
    let seq = self.next_seq;
    self.next_seq += 1;
    let bytes = entry_bytes(&key, &value);
    self.used += bytes;
    self.order.insert(seq, key.clone());
    self.reindex(seq, None, expires_at);
    self.entries.put(
      key,
      Entry {
        value,
        expires_at,
        seq,
        bytes,
      },
    );
  }

  fn remove(&mut self, key: &[u8]) -> bool {
    match self.entries.pop(key) {
      Some(entry) => {
        self.unindex(&entry);
        self.changed(key);
        true
      }
      None => false,
    }
  }

  /// Forgets an entry already taken out of `entries`.
  fn unindex(&mut self, entry: &Entry) {
    self.order.remove(&entry.seq);
    self.reindex(entry.seq, entry.expires_at, None);
    self.used -= entry.bytes;
  }

  fn reindex(&mut self, seq: u64, old: Option<u64>, new: Option<u64>) {
    if old == new {
      return;
    }
    if let Some(at) = old {
      self.deadlines.remove(&(at, seq));
    }
    if let Some(at) = new {
      self.deadlines.insert((at, seq));
    }
  }
}

fn entry_bytes(key: &[u8], value: &Value) -> usize {
  ENTRY_OVERHEAD + key.len() + value.bytes()
}

#[cfg(test)]
pub(crate) mod tests {
  use super::*;
  use std::sync::atomic::{AtomicU64, Ordering};

  /// A clock moved by hand.
  pub struct FakeClock(pub AtomicU64);

  impl FakeClock {
    pub fn advance(&self, ms: u64) {
      self.0.fetch_add(ms, Ordering::SeqCst);
    }
  }

  impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
      self.0.load(Ordering::SeqCst)
    }
  }

  pub fn store(max_bytes: Option<usize>) -> (Store, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock(AtomicU64::new(1_000_000)));
    let scripts = &crate::features::scripts::LibraryScripts;
    (Store::new(clock.clone(), max_bytes, scripts), clock)
  }

  fn s(v: &str) -> Value {
    Value::Str(v.as_bytes().to_vec())
  }

  fn get(store: &mut Store, key: &str) -> Option<Vec<u8>> {
    match store.read(key.as_bytes()) {
      Some(Value::Str(v)) => Some(v.clone()),
      _ => None,
    }
  }

  #[test]
  fn a_key_expires_exactly_at_its_deadline() {
    let (mut st, clock) = store(None);
    let at = st.now() + 100;
    st.set(b"k", s("v"), Ttl::At(at));
    clock.advance(99);
    st.tick();
    assert_eq!(get(&mut st, "k"), Some(b"v".to_vec()));
    clock.advance(1);
    st.tick();
    assert_eq!(get(&mut st, "k"), None);
    assert_eq!(st.len(), 0);
    assert_eq!(st.stats().expired, 1);
  }

  #[test]
  fn a_deadline_in_the_past_deletes() {
    let (mut st, _) = store(None);
    st.set(b"k", s("v"), Ttl::Clear);
    st.set(b"k", s("w"), Ttl::At(st.now()));
    assert_eq!(st.len(), 0);
    st.set(b"k", s("v"), Ttl::Clear);
    assert!(st.set_deadline(b"k", Some(1)));
    assert_eq!(st.len(), 0);
    assert!(!st.set_deadline(b"k", Some(1)));
  }

  #[test]
  fn keep_and_clear_ttl() {
    let (mut st, _) = store(None);
    let at = st.now() + 500;
    st.set(b"k", s("v"), Ttl::At(at));
    st.set(b"k", s("w"), Ttl::Keep);
    assert_eq!(st.deadline(b"k"), Some(Some(at)));
    st.set(b"k", s("x"), Ttl::Clear);
    assert_eq!(st.deadline(b"k"), Some(None));
    assert_eq!(st.volatile(), 0);
  }

  #[test]
  fn sweep_reclaims_unread_keys_a_bounded_number_at_a_time() {
    let (mut st, clock) = store(None);
    for i in 0..10 {
      let at = st.now() + 10 + i;
      st.set(format!("k{i}").as_bytes(), s("v"), Ttl::At(at));
    }
    st.set(b"stay", s("v"), Ttl::Clear);
    clock.advance(1_000);
    st.tick();
    st.sweep(4);
    assert_eq!(st.len(), 7);
    st.sweep(100);
    assert_eq!(st.len(), 1);
    assert_eq!(st.volatile(), 0);
    assert_eq!(st.stats().expired, 10);
  }

  #[test]
  fn used_bytes_track_writes_and_deletes() {
    let (mut st, _) = store(None);
    st.set(b"k", s("abc"), Ttl::Clear);
    assert_eq!(st.used_bytes(), ENTRY_OVERHEAD + 1 + 3);
    st.set(b"k", s("a"), Ttl::Clear);
    assert_eq!(st.used_bytes(), ENTRY_OVERHEAD + 1 + 1);
    assert!(st.delete(b"k"));
    assert_eq!(st.used_bytes(), 0);
  }

  #[test]
  fn eviction_drops_the_least_recently_used_first() {
    let per_key = ENTRY_OVERHEAD + 2 + 10;
    let (mut st, _) = store(Some(per_key * 3));
    for k in ["k1", "k2", "k3"] {
      st.set(k.as_bytes(), s("0123456789"), Ttl::Clear);
    }
    assert_eq!(get(&mut st, "k1"), Some(b"0123456789".to_vec()));
    st.set(b"k4", s("0123456789"), Ttl::Clear);
    st.enforce_bound();
    assert_eq!(st.len(), 3);
    assert!(st.peek(b"k2").is_none(), "k2 was the least recently used");
    assert!(st.peek(b"k1").is_some());
    assert_eq!(st.stats().evicted, 1);
    assert!(st.used_bytes() <= per_key * 3);
  }

  #[test]
  fn an_oversized_value_stays_until_the_next_write() {
    let (mut st, _) = store(Some(100));
    st.set(b"a", s("x"), Ttl::Clear);
    st.set(b"big", Value::Str(vec![0; 500]), Ttl::Clear);
    st.enforce_bound();
    assert_eq!(st.len(), 1);
    assert!(st.peek(b"big").is_some());
  }

  #[test]
  fn changes_are_collected_only_when_asked() {
    let (mut st, clock) = store(None);
    st.set(b"quiet", s("v"), Ttl::Clear);
    st.collect_changes(true);
    assert_eq!(st.take_changes(), None);
    st.set(b"a", s("1"), Ttl::At(st.now() + 10));
    assert!(st.delete(b"quiet"));
    let keys = st.take_changes().map(|c| c.keys);
    assert_eq!(keys, Some(vec![b"a".to_vec(), b"quiet".to_vec()]));
    clock.advance(10);
    st.tick();
    assert_eq!(get(&mut st, "a"), None);
    assert_eq!(st.take_changes().map(|c| c.keys), Some(vec![b"a".to_vec()]));
    st.set(b"b", s("2"), Ttl::Clear);
    st.flush();
    let all = Changes {
      keys: Vec::new(),
      flushed: true,
    };
    assert_eq!(st.take_changes(), Some(all));
    st.collect_changes(false);
    st.set(b"c", s("3"), Ttl::Clear);
    assert_eq!(st.take_changes(), None);
  }

  #[test]
  fn modify_creates_accounts_and_drops_empty_collections() {
    let (mut st, _) = store(None);
    let pushed = st.modify(b"l", Some(Value::empty_list), |v| {
      v.as_list_mut()?
        .push(super::super::value::End::Right, b"x".to_vec());
      Ok(1)
    });
    assert_eq!(pushed, Ok(Some(1)));
    assert!(st.used_bytes() > ENTRY_OVERHEAD);
    let popped = st.modify(b"l", None, |v| {
      Ok(v.as_list_mut()?.pop(super::super::value::End::Left))
    });
    assert_eq!(popped, Ok(Some(Some(b"x".to_vec()))));
    assert_eq!((st.len(), st.used_bytes()), (0, 0));
    assert_eq!(st.modify(b"l", None, |_| Ok(())), Ok(None));
  }

  #[test]
  fn scan_visits_every_stable_key_once_despite_changes() {
    let (mut st, _) = store(None);
    for i in 0..50 {
      st.set(format!("k{i}").as_bytes(), s("v"), Ttl::Clear);
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut round = 0;
    loop {
      let (next, keys) = st.scan(cursor, 7, |_, _| true);
      seen.extend(keys);
      // Churn between steps: new keys, deleted keys, rewritten keys.
      st.set(format!("new{round}").as_bytes(), s("v"), Ttl::Clear);
      st.delete(format!("k{}", 49 - round).as_bytes());
      st.set(b"k0", s("rewritten"), Ttl::Clear);
      round += 1;
      if next == 0 {
        break;
      }
      cursor = next;
    }
    let stable: Vec<Vec<u8>> = (0..50 - round)
      .map(|i| format!("k{i}").into_bytes())
      .collect();
    for key in &stable {
      assert_eq!(seen.iter().filter(|k| *k == key).count(), 1);
    }
  }
}
