//! Server-side scripts: the registry of the Lua files in `src/lua/`.
//!
//! The JS layer sends `EVALSHA <sha> ...` like any other command, in the same
//! batch and pipeline. When the server answers NOSCRIPT (after a restart, a
//! failover or `SCRIPT FLUSH`), it re-sends the call once as `EVAL <code>`,
//! which also loads the script for the next calls. The memory backend runs
//! each script's Rust twin, found by SHA.

use std::sync::OnceLock;

/// One Lua script of the library.
pub struct Script {
  pub name: &'static str,
  pub code: &'static str,
}

/// Every script, by name. Each `.lua` file's header lists its KEYS and ARGV.
pub static SCRIPTS: &[Script] = &[
  // JWT blacklist, drafts, job queue
  Script {
    name: "blacklist_revoke_all",
    code: include_str!("lua/blacklist_revoke_all.lua"),
  },
  Script {
    name: "drafts_save",
    code: include_str!("lua/drafts_save.lua"),
  },
  Script {
    name: "queue_ack",
    code: include_str!("lua/queue_ack.lua"),
  },
  // Rate limiting: one script per algorithm (src/ratelimit.rs has their Rust twins)
  Script {
    name: "ratelimit_fixed_window",
    code: include_str!("lua/ratelimit_fixed_window.lua"),
  },
  Script {
    name: "ratelimit_fixed_window_open",
    code: include_str!("lua/ratelimit_fixed_window_open.lua"),
  },
  Script {
    name: "ratelimit_sliding_window",
    code: include_str!("lua/ratelimit_sliding_window.lua"),
  },
  Script {
    name: "ratelimit_token_bucket",
    code: include_str!("lua/ratelimit_token_bucket.lua"),
  },
  Script {
    name: "ratelimit_gcra",
    code: include_str!("lua/ratelimit_gcra.lua"),
  },
];

fn shas() -> &'static [String] {
  static SHAS: OnceLock<Vec<String>> = OnceLock::new();
  SHAS.get_or_init(|| {
    SCRIPTS
      .iter()
      .map(|s| redis::Script::new(s.code).get_hash().to_string())
      .collect()
  })
}

/// The SHA1 of the script called `name`.
pub fn sha(name: &str) -> Option<&'static str> {
  let i = SCRIPTS.iter().position(|s| s.name == name)?;
  shas().get(i).map(String::as_str)
}

/// The Lua source of the script called `name`.
pub fn code(name: &str) -> Option<&'static str> {
  SCRIPTS.iter().find(|s| s.name == name).map(|s| s.code)
}

/// The script whose SHA1 is `sha`.
pub fn by_sha(sha: &[u8]) -> Option<&'static Script> {
  let i = shas().iter().position(|s| s.as_bytes() == sha)?;
  SCRIPTS.get(i)
}
