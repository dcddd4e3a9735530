//! `serverInfo()`: the few INFO fields an operator looks at first.

/// Fields of INFO, as JSON for the JS layer: `{ keys, usedMemory, hits, misses, evictions }`.
pub fn summarize(info: &str) -> String {
  let field = |name: &str| -> Option<&str> {
    info.lines().find_map(|line| {
      let (k, v) = line.split_once(':')?;
      (k == name).then(|| v.trim())
    })
  };
  let num = |name: &str| field(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
  // `db0:keys=12,expires=3,avg_ttl=0`: every logical database counts.
  let keys: u64 = info
    .lines()
    .filter(|l| l.starts_with("db"))
    .filter_map(|l| {
      let (_, stats) = l.split_once(':')?;
      stats
        .split(',')
        .find_map(|kv| kv.strip_prefix("keys="))?
        .parse::<u64>()
        .ok()
    })
    .sum();
  serde_json::json!({
    "keys": keys,
    "usedMemory": field("used_memory_human").unwrap_or("0B"),
    "hits": num("keyspace_hits"),
    "misses": num("keyspace_misses"),
    "evictions": num("evicted_keys"),
  })
  .to_string()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn sums_keys_of_every_db_and_reads_counters() {
    let info = "# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\n# Stats\r\nkeyspace_hits:7\r\nkeyspace_misses:3\r\nevicted_keys:1\r\n# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\ndb2:keys=5,expires=0,avg_ttl=0\r\n";
    let v: serde_json::Value = serde_json::from_str(&summarize(info)).unwrap_or_default();
    assert_eq!(v["keys"], 17);
    assert_eq!(v["usedMemory"], "1.00K");
    assert_eq!(v["hits"], 7);
    assert_eq!(v["misses"], 3);
    assert_eq!(v["evictions"], 1);
  }

  #[test]
  fn missing_fields_are_zero() {
    let v: serde_json::Value = serde_json::from_str(&summarize("")).unwrap_or_default();
    assert_eq!(v["keys"], 0);
    assert_eq!(v["usedMemory"], "0B");
  }
}
