//! Pattern and tag invalidation, on the server and in the L1 tier.
//!
//! Patterns are user globs relative to the key prefix; the prefix itself is
//! escaped, so a prefix holding `*` or `[` cannot widen a pattern. Tags are
//! Redis sets at `<prefix>tag:<tag>` whose members are the (prefixed) keys
//! written with that tag (`lib/cache.js` writes them beside each entry, and
//! stretches each set's TTL to its longest-lived member).

use crate::args;
use crate::backend::{exec_one, Backend, Reply};
use crate::cache::coherence::Coherence;
use crate::error::Result;
use crate::glob::has_glob_chars;

/// Keys asked of SCAN per round trip (SCAN's COUNT hint).
pub const SCAN_BATCH: usize = 1_000;

/// Escapes glob metacharacters so `s` matches only itself.
pub fn escape_glob(s: &str) -> String {
  let mut out = String::with_capacity(s.len());
  for c in s.chars() {
    if matches!(c, '*' | '?' | '[' | ']' | '\\') {
      out.push('\\');
    }
    out.push(c);
  }
  out
}

/// The Redis key of a tag's member set (`lib/cache.js` writes the same).
pub fn tag_key(prefix: &str, tag: &str) -> String {
  format!("{prefix}tag:{tag}")
}

/// The one key a pattern without glob characters matches (its escapes removed).
fn unescape_glob(pattern: &str) -> String {
  let mut out = String::with_capacity(pattern.len());
  let mut chars = pattern.chars();
  while let Some(c) = chars.next() {
    out.push(if c == '\\' {
      chars.next().unwrap_or(c)
    } else {
      c
    });
  }
  out
}

/// Deletes every key matching `pattern` under `prefix`, in Redis and in L1.
/// A pattern that can match only one key (e.g. one built with `key()`) is a
/// single UNLINK instead of a walk of the keyspace.
///
/// The L1 is cleared (and reads in flight fenced) before the server work, so
/// no caller sees an old copy meanwhile, and again after it, whatever its
/// outcome: a read answered before the UNLINK but stored after it would
/// otherwise keep a deleted value.
pub async fn by_pattern(
  backend: &dyn Backend,
  coherence: &Coherence,
  prefix: &str,
  pattern: &str,
) -> Result<u64> {
  if !has_glob_chars(pattern.as_bytes()) {
    let key = [unescape_glob(pattern)];
    coherence.forget(&key);
    let n = exec_one(backend, args![b"UNLINK", format!("{prefix}{}", key[0])]).await;
    coherence.forget(&key);
    return Ok(n?.as_int().unwrap_or(0).max(0) as u64);
  }
  coherence.forget_matching(pattern);
  let full = format!("{}{}", escape_glob(prefix), pattern);
  let deleted = backend.delete_matching(full.into_bytes(), SCAN_BATCH).await;
  coherence.forget_matching(pattern);
  deleted
}

/// Deletes every key written with one of `tags`, and the tag sets
/// themselves; the L1 is fenced before and after, as by `by_pattern`.
pub async fn by_tags(
  backend: &dyn Backend,
  coherence: &Coherence,
  prefix: &str,
  tags: &[String],
) -> Result<u64> {
  coherence.forget_tags(tags);
  let mut members = Vec::new();
  let deleted = unlink_tagged(backend, coherence, prefix, tags, &mut members).await;
  coherence.forget_tags(tags);
  coherence.forget(&members);
  deleted
}

/// The server half of `by_tags`: the members of each tag set are collected
/// into `members` (unprefixed) as they are found.
async fn unlink_tagged(
  backend: &dyn Backend,
  coherence: &Coherence,
  prefix: &str,
  tags: &[String],
  members: &mut Vec<String>,
) -> Result<u64> {
  let mut deleted = 0u64;
  for tag in tags {
    let set = tag_key(prefix, tag);
    let keys: Vec<Vec<u8>> = match exec_one(backend, args![b"SMEMBERS", set]).await? {
      Reply::Array(items) => items
        .into_iter()
        .filter_map(|m| match m {
          Reply::Bulk(b) => Some(b),
          _ => None,
        })
        .collect(),
      _ => Vec::new(),
    };
    let local: Vec<String> = keys
      .iter()
      .filter_map(|k| {
        std::str::from_utf8(k)
          .ok()?
          .strip_prefix(prefix)
          .map(str::to_string)
      })
      .collect();
    coherence.forget(&local);
    members.extend(local);
    let mut unlink = vec![b"UNLINK".to_vec()];
    unlink.extend(keys);
    let mut cmds = vec![args![b"UNLINK", set]];
    if unlink.len() > 1 {
      cmds.insert(0, unlink);
    }
    let with_keys = cmds.len() == 2;
    let mut replies = backend.exec(cmds).await.into_iter();
    if with_keys {
      if let Some(reply) = replies.next() {
        deleted += reply?.as_int().unwrap_or(0).max(0) as u64;
      }
    }
    if let Some(reply) = replies.next() {
      reply?;
    }
  }
  Ok(deleted)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::glob::matches;

  #[test]
  fn an_escaped_prefix_matches_only_itself() {
    let p = escape_glob("app[1]*:");
    assert!(matches(format!("{p}*").as_bytes(), b"app[1]*:x"));
    assert!(!matches(format!("{p}*").as_bytes(), b"app1xx:x"));
  }

  #[test]
  fn an_exact_pattern_unescapes_to_its_key() {
    assert_eq!(unescape_glob("a\\*b"), "a*b");
    assert_eq!(unescape_glob("plain:1"), "plain:1");
    assert_eq!(unescape_glob("end\\"), "end\\");
  }
}
