//! The L1 tier's bounds and their defaults, defined here once: the options
//! fall back on them and the tier takes the values it is given.

/// Bounds of the L1 tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalConfig {
  /// Most entries held; the removal journal is bounded by it too.
  pub max_entries: usize,
  /// Most bytes held, counting each key plus its serialized value.
  pub max_bytes: usize,
  /// Longest lifetime of an entry, whatever its Redis TTL.
  pub ttl_ms: u64,
}

impl Default for LocalConfig {
  fn default() -> Self {
    LocalConfig {
      max_entries: 10_000,
      max_bytes: 64 << 20,
      ttl_ms: 60_000,
    }
  }
}
