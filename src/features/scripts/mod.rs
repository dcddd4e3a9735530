//! Server-side scripts: the one registry of the library's Lua scripts, each
//! with its source and its native twin.
//!
//! The JS layer sends `EVALSHA <sha> ...` like any other command, in the same
//! batch and pipeline. When the server answers NOSCRIPT (after a restart, a
//! failover or `SCRIPT FLUSH`), it re-sends the call once as `EVAL <code>`,
//! which also loads the script for the next calls. `memory://` has no Lua: the
//! client hands it this registry ([`LibraryScripts`]) and it runs each
//! script's twin, found by SHA (EVALSHA) or by source (EVAL).
//!
//! The twins sit next to their Lua: the rate-limit ones in `ratelimit/`
//! (`twin.rs`), the others here (`twins.rs`).

mod twins;

#[cfg(test)]
pub(super) mod tests;

pub use twins::bad_call;

use std::sync::OnceLock;

use super::ratelimit::twin as ratelimit;
use crate::backend::memory::script::{Scripts, Twin};

/// One Lua script of the library. Each `.lua` file's header lists its KEYS and ARGV.
pub struct Script {
  pub name: &'static str,
  pub code: &'static str,
  /// What `memory://` runs in its place.
  pub twin: Twin,
}

/// A registry entry: the script `name` is the file `<dir>/<name>.lua`.
macro_rules! script {
  ($dir:literal, $name:literal, $twin:path) => {
    Script {
      name: $name,
      code: include_str!(concat!($dir, $name, ".lua")),
      twin: $twin,
    }
  };
}

/// Every script, by name.
pub static SCRIPTS: &[Script] = &[
  // JWT blacklist, drafts, job queue: beside this file, their twins in `twins.rs`
  script!("", "blacklist_revoke_all", twins::blacklist_revoke_all),
  script!("", "drafts_save", twins::drafts_save),
  script!("", "queue_ack", twins::queue_ack),
  // Rate limiting: one script per algorithm, beside the algorithm and its twin
  script!(
    "../ratelimit/",
    "ratelimit_fixed_window",
    ratelimit::fixed_window
  ),
  script!(
    "../ratelimit/",
    "ratelimit_fixed_window_open",
    ratelimit::fixed_window_open
  ),
  script!(
    "../ratelimit/",
    "ratelimit_sliding_window",
    ratelimit::sliding_window
  ),
  script!(
    "../ratelimit/",
    "ratelimit_token_bucket",
    ratelimit::token_bucket
  ),
  script!("../ratelimit/", "ratelimit_gcra", ratelimit::gcra),
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
fn by_sha(sha: &[u8]) -> Option<&'static Script> {
  let i = shas().iter().position(|s| s.as_bytes() == sha)?;
  SCRIPTS.get(i)
}

/// The registry as `memory://` asks it: the twins the client gives its store.
pub struct LibraryScripts;

impl Scripts for LibraryScripts {
  fn by_sha(&self, sha: &[u8]) -> Option<Twin> {
    by_sha(sha).map(|s| s.twin)
  }

  fn by_code(&self, code: &[u8]) -> Option<Twin> {
    SCRIPTS
      .iter()
      .find(|s| s.code.as_bytes() == code)
      .map(|s| s.twin)
  }
}
