//! The cache's Rust half: the L1 tier's bookkeeping and the cache counters.
//!
//! The JS layer runs loaders, keeps parsed values with their expiry, and
//! serves L1 hits without calling here; it reports those hits (their keys, for
//! recency, and their count) in batches through `local_touch`.

pub mod coherence;
pub mod invalidate;
pub mod l1;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::cache::l1::{LocalTier, Removed};
use crate::clock::SystemClock;
use crate::config::LocalConfig;
pub use crate::metrics::CacheSnapshot;

/// Events the JS layer reports for the paths it drives, by number: the
/// numbers are exported on the binding (`src/napi/constants.rs`) and
/// `lib/cache.js` reads them from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CacheEvent {
  RemoteHit = 0,
  Miss = 1,
  Load = 2,
  Error = 3,
}

impl CacheEvent {
  pub fn from_code(code: u32) -> Option<CacheEvent> {
    [
      CacheEvent::RemoteHit,
      CacheEvent::Miss,
      CacheEvent::Load,
      CacheEvent::Error,
    ]
    .into_iter()
    .find(|e| *e as u32 == code)
  }
}

#[derive(Default)]
struct CacheCounters {
  local_hits: AtomicU64,
  remote_hits: AtomicU64,
  misses: AtomicU64,
  loads: AtomicU64,
  errors: AtomicU64,
}

pub struct Cache {
  local: Option<LocalTier>,
  counters: CacheCounters,
}

impl Cache {
  pub fn new(local: Option<LocalConfig>) -> Self {
    Cache {
      local: local.map(|cfg| LocalTier::new(cfg, Arc::new(SystemClock::new()))),
      counters: CacheCounters::default(),
    }
  }

  pub fn local_enabled(&self) -> bool {
    self.local.is_some()
  }

  /// Hits JS served from its copies since its last report: counted, and
  /// their keys made most recently used.
  pub fn local_touch(&self, keys: &[String], hits: u64) {
    if let Some(l) = self.local.as_ref() {
      l.touch(keys);
    }
    self.counters.local_hits.fetch_add(hits, Ordering::Relaxed);
  }

  /// Records a value of `value_bytes` serialized bytes; the TTL JS must give its copy.
  pub fn local_insert(
    &self,
    key: &str,
    value_bytes: usize,
    ttl_ms: u64,
    tags: &[String],
  ) -> Option<u64> {
    self.local.as_ref()?.insert(key, value_bytes, ttl_ms, tags)
  }

  pub fn local_remove<S: AsRef<str>>(&self, keys: &[S]) -> usize {
    self.local.as_ref().map_or(0, |l| l.remove_many(keys))
  }

  pub fn local_remove_matching(&self, pattern: &str) -> usize {
    self
      .local
      .as_ref()
      .map_or(0, |l| l.remove_matching(pattern))
  }

  pub fn local_remove_tags<S: AsRef<str>>(&self, tags: &[S]) -> usize {
    self.local.as_ref().map_or(0, |l| l.remove_tags(tags))
  }

  pub fn local_clear(&self) -> usize {
    self.local.as_ref().map_or(0, |l| l.clear())
  }

  /// Keys whose parsed copies JS must drop; `None` means drop them all.
  pub fn take_removed(&self) -> Option<Vec<String>> {
    match self.local.as_ref().map(|l| l.take_removed()) {
      None => Some(Vec::new()),
      Some(Removed::Keys(keys)) => Some(keys),
      Some(Removed::All) => None,
    }
  }

  pub fn record(&self, event: CacheEvent) {
    let counter = match event {
      CacheEvent::RemoteHit => &self.counters.remote_hits,
      CacheEvent::Miss => &self.counters.misses,
      CacheEvent::Load => &self.counters.loads,
      CacheEvent::Error => &self.counters.errors,
    };
    counter.fetch_add(1, Ordering::Relaxed);
  }

  pub fn snapshot(&self) -> CacheSnapshot {
    let c = &self.counters;
    CacheSnapshot {
      local_hits: c.local_hits.load(Ordering::Relaxed),
      remote_hits: c.remote_hits.load(Ordering::Relaxed),
      misses: c.misses.load(Ordering::Relaxed),
      loads: c.loads.load(Ordering::Relaxed),
      errors: c.errors.load(Ordering::Relaxed),
      local: self.local.as_ref().map(|l| l.stats()).unwrap_or_default(),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn reported_hits_are_counted() {
    let cache = Cache::new(Some(LocalConfig::default()));
    assert_eq!(cache.local_insert("k", 10, 1_000, &[]), Some(1_000));
    cache.local_touch(&["k".to_string()], 1);
    cache.record(CacheEvent::Miss);
    let s = cache.snapshot();
    assert_eq!((s.local_hits, s.misses, s.hits()), (1, 1, 1));
    assert!((s.hit_rate() - 0.5).abs() < f64::EPSILON);
  }

  #[test]
  fn without_a_local_tier_nothing_is_cached() {
    let cache = Cache::new(None);
    assert_eq!(cache.local_insert("k", 10, 1_000, &[]), None);
    assert_eq!(cache.take_removed(), Some(Vec::new()));
  }

  #[test]
  fn unknown_event_codes_are_refused() {
    assert_eq!(CacheEvent::from_code(9), None);
    assert_eq!(CacheEvent::from_code(2), Some(CacheEvent::Load));
    for event in [
      CacheEvent::RemoteHit,
      CacheEvent::Miss,
      CacheEvent::Load,
      CacheEvent::Error,
    ] {
      assert_eq!(CacheEvent::from_code(event as u32), Some(event));
    }
  }
}
