//! Keeps the L1 coherent with changes made by other clients: applies the
//! invalidations a backend reports (`backend/tracking.rs`) and fences L1
//! inserts against the race between a read and an invalidation.
//!
//! The race: invalidations travel on a connection of their own, so one the
//! server sent *after* answering a read can be applied here *before* JS
//! stores that read's value; the stale copy would then stay until its ttl.
//! JS reads `epoch()` before sending the read (or the write whose value it
//! caches) and hands it to `local_insert`, which refuses the entry when its
//! key, or everything, was invalidated since. An insert is made first and
//! checked after; an invalidation is recorded first and applied after: so
//! whichever comes second catches the other.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::redis::tracking::{Invalidation, InvalidationSink};
use crate::backend::{Done, Event};
use crate::bridge::Bridge;
use crate::cache::Cache;

/// Invalidations remembered for the fence; a read that spans more is refused
/// an L1 entry (it only costs a later miss).
const RECENT: usize = 1024;

pub struct Coherence {
  cache: Arc<Cache>,
  bridge: Arc<Bridge>,
  prefix: String,
  fence: Mutex<Fence>,
}

/// Recent invalidations, numbered from 1.
#[derive(Default)]
struct Fence {
  /// Number of the latest invalidation.
  epoch: u64,
  /// Every invalidation numbered above `floor` is in `recent`.
  floor: u64,
  /// (number, key), oldest first.
  recent: VecDeque<(u64, String)>,
}

impl Fence {
  fn record(&mut self, keys: &[String]) {
    for key in keys {
      self.epoch += 1;
      self.recent.push_back((self.epoch, key.clone()));
    }
    while self.recent.len() > RECENT {
      if let Some((n, _)) = self.recent.pop_front() {
        self.floor = n;
      }
    }
  }

  fn record_all(&mut self) {
    self.epoch += 1;
    self.floor = self.epoch;
    self.recent.clear();
  }

  /// Whether `key` may have changed after invalidation number `since`.
  fn changed(&self, key: &str, since: u64) -> bool {
    since < self.floor
      || self
        .recent
        .iter()
        .rev()
        .take_while(|(n, _)| *n > since)
        .any(|(_, k)| k == key)
  }
}

impl Coherence {
  pub fn new(cache: Arc<Cache>, bridge: Arc<Bridge>, prefix: String) -> Self {
    Coherence {
      cache,
      bridge,
      prefix,
      fence: Mutex::new(Fence::default()),
    }
  }

  fn fence(&self) -> MutexGuard<'_, Fence> {
    self.fence.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// Where a backend reports invalidations.
  pub fn sink(self: &Arc<Self>) -> InvalidationSink {
    let this = self.clone();
    Arc::new(move |invalidation| this.apply(invalidation))
  }

  /// Removes the L1 entries of invalidated keys (those under the key prefix)
  /// and, when any left, signals JS to drop its copies.
  pub fn apply(&self, invalidation: Invalidation) {
    let removed = match invalidation {
      Invalidation::All => self.flush(),
      Invalidation::Keys(keys) => {
        let keys: Vec<String> = keys
          .iter()
          .filter_map(|k| k.strip_prefix(self.prefix.as_bytes()))
          .filter_map(|k| std::str::from_utf8(k).ok())
          .map(str::to_owned)
          .collect();
        if keys.is_empty() {
          return;
        }
        self.fence().record(&keys);
        self.cache.local_remove(&keys)
      }
    };
    if removed > 0 {
      self.bridge.complete([Done::Event(Event::LocalChanged)]);
    }
  }

  /// Empties the L1 and fences out the reads in flight. Returns how many
  /// entries left; telling JS is the caller's business.
  pub fn flush(&self) -> usize {
    self.fence().record_all();
    self.cache.local_clear()
  }

  /// A change to `keys` made off the JS thread's own-write fence (an exact
  /// invalidation, or a write of a key whose copy this tier holds): fences
  /// the reads of those keys already in flight, whose replies may predate the
  /// change, then drops their L1 entries. (JS fences the reads its own writes
  /// race with itself, `evict` in `lib/cache.js`, without a native call.)
  pub fn forget<S: AsRef<str>>(&self, keys: &[S]) -> usize {
    let owned: Vec<String> = keys.iter().map(|k| k.as_ref().to_owned()).collect();
    self.fence().record(&owned);
    self.cache.local_remove(keys)
  }

  /// A change to every key matching `pattern`: no in-flight read can be
  /// matched against a glob cheaply, so all of them are fenced.
  pub fn forget_matching(&self, pattern: &str) -> usize {
    self.fence().record_all();
    self.cache.local_remove_matching(pattern)
  }

  /// A change to every key written with one of `tags`; a read's reply does
  /// not say which tags its key carries, so all reads in flight are fenced.
  pub fn forget_tags<S: AsRef<str>>(&self, tags: &[S]) -> usize {
    self.fence().record_all();
    self.cache.local_remove_tags(tags)
  }

  pub fn epoch(&self) -> u64 {
    self.fence().epoch
  }

  /// `Cache::local_insert`, refused when `since` (an `epoch()` read before
  /// the value was read or written) shows the key may have changed since.
  pub fn local_insert(
    &self,
    key: &str,
    value_bytes: usize,
    ttl_ms: u64,
    tags: &[String],
    since: Option<u64>,
  ) -> Option<u64> {
    let ttl = self.cache.local_insert(key, value_bytes, ttl_ms, tags)?;
    match since {
      Some(since) if self.fence().changed(key, since) => {
        self.cache.local_remove(&[key]);
        None
      }
      _ => Some(ttl),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_key_invalidated_after_the_read_is_fenced() {
    let mut fence = Fence::default();
    fence.record(&["a".to_string()]);
    let since = fence.epoch;
    assert!(!fence.changed("a", since));
    fence.record(&["b".to_string(), "a".to_string()]);
    assert!(fence.changed("a", since));
    assert!(fence.changed("b", since));
    assert!(!fence.changed("c", since));
    assert!(!fence.changed("a", fence.epoch));
  }

  #[test]
  fn a_flush_or_a_forgotten_invalidation_fences_every_key() {
    let mut fence = Fence::default();
    let since = fence.epoch;
    fence.record_all();
    assert!(fence.changed("x", since));
    assert!(!fence.changed("x", fence.epoch));
    let since = fence.epoch;
    let many: Vec<String> = (0..=RECENT).map(|i| i.to_string()).collect();
    fence.record(&many);
    assert_eq!(fence.recent.len(), RECENT);
    assert!(fence.changed("not-listed", since));
    assert!(!fence.changed("not-listed", fence.epoch - 1));
  }
}
