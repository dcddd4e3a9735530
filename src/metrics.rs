//! Client counters, the cache's snapshot types and their Prometheus text
//! exposition (a leaf: the cache fills the snapshots it renders).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Kind};

#[derive(Default)]
pub struct Counters {
  commands: AtomicU64,
  errors: AtomicU64,
  timeouts: AtomicU64,
  reconnects: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Snapshot {
  pub commands: u64,
  pub errors: u64,
  pub timeouts: u64,
  pub reconnects: u64,
}

impl Counters {
  pub fn sent(&self, n: usize) {
    self.commands.fetch_add(n as u64, Ordering::Relaxed);
  }

  pub fn failed(&self, err: &Error) {
    self.errors.fetch_add(1, Ordering::Relaxed);
    if err.kind() == Kind::Timeout {
      self.timeouts.fetch_add(1, Ordering::Relaxed);
    }
  }

  pub fn reconnected(&self) {
    self.reconnects.fetch_add(1, Ordering::Relaxed);
  }

  pub fn snapshot(&self) -> Snapshot {
    Snapshot {
      commands: self.commands.load(Ordering::Relaxed),
      errors: self.errors.load(Ordering::Relaxed),
      timeouts: self.timeouts.load(Ordering::Relaxed),
      reconnects: self.reconnects.load(Ordering::Relaxed),
    }
  }
}

/// A snapshot of the tier's occupancy, for the client's stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalStats {
  pub entries: usize,
  pub bytes: usize,
  /// Entries pushed out to respect the bounds (not expiries, not removals).
  pub evictions: u64,
}

/// A snapshot of the cache counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CacheSnapshot {
  pub local_hits: u64,
  pub remote_hits: u64,
  pub misses: u64,
  pub loads: u64,
  pub errors: u64,
  pub local: LocalStats,
}

impl CacheSnapshot {
  pub fn hits(&self) -> u64 {
    self.local_hits + self.remote_hits
  }

  pub fn hit_rate(&self) -> f64 {
    let reads = self.hits() + self.misses;
    if reads == 0 {
      0.0
    } else {
      self.hits() as f64 / reads as f64
    }
  }
}

/// Prometheus text format 0.0.4.
pub fn prometheus(client: &Snapshot, cache: &CacheSnapshot, in_flight: i64) -> String {
  let mut out = String::with_capacity(1024);
  let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
      let _ = writeln!(out, "{name}{labels} {value}");
    }
  };
  metric(
    "ferrocache_commands_total",
    "counter",
    "Commands sent to the backend.",
    &[("", client.commands as f64)],
  );
  metric(
    "ferrocache_errors_total",
    "counter",
    "Commands that failed.",
    &[("", client.errors as f64)],
  );
  metric(
    "ferrocache_timeouts_total",
    "counter",
    "Commands that timed out.",
    &[("", client.timeouts as f64)],
  );
  metric(
    "ferrocache_reconnects_total",
    "counter",
    "Reconnections after a lost connection.",
    &[("", client.reconnects as f64)],
  );
  metric(
    "ferrocache_in_flight",
    "gauge",
    "Requests awaiting a reply.",
    &[("", in_flight as f64)],
  );
  metric(
    "ferrocache_cache_hits_total",
    "counter",
    "Cache reads answered, by tier.",
    &[
      ("{tier=\"local\"}", cache.local_hits as f64),
      ("{tier=\"remote\"}", cache.remote_hits as f64),
    ],
  );
  metric(
    "ferrocache_cache_misses_total",
    "counter",
    "Cache reads that found nothing.",
    &[("", cache.misses as f64)],
  );
  metric(
    "ferrocache_cache_loads_total",
    "counter",
    "Loader calls.",
    &[("", cache.loads as f64)],
  );
  metric(
    "ferrocache_cache_errors_total",
    "counter",
    "Cache operations that fell back after a backend error.",
    &[("", cache.errors as f64)],
  );
  metric(
    "ferrocache_local_entries",
    "gauge",
    "Entries in the L1 tier.",
    &[("", cache.local.entries as f64)],
  );
  metric(
    "ferrocache_local_bytes",
    "gauge",
    "Bytes held by the L1 tier.",
    &[("", cache.local.bytes as f64)],
  );
  metric(
    "ferrocache_local_evictions_total",
    "counter",
    "L1 entries evicted for space.",
    &[("", cache.local.evictions as f64)],
  );
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn exposition_has_help_type_and_labelled_tiers() {
    let counters = Counters::default();
    counters.sent(3);
    counters.failed(&Error::new(Kind::Timeout, "slow"));
    let text = prometheus(&counters.snapshot(), &CacheSnapshot::default(), 0);
    assert!(
      text.contains("# TYPE ferrocache_commands_total counter\nferrocache_commands_total 3\n")
    );
    assert!(text.contains("ferrocache_timeouts_total 1\n"));
    assert!(text.contains("ferrocache_cache_hits_total{tier=\"local\"} 0\n"));
  }
}
