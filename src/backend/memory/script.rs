//! What a script twin is, as the memory backend sees it. `memory://` has no
//! Lua: it runs a script it knows by a native function with the script's
//! results and side effects (its "twin"). Which scripts exist is not this
//! backend's business: the client hands it a [`Scripts`] at construction (the
//! library's registry, `features::scripts`), and the twins are written against
//! the store API re-exported here, next to their Lua files.

use crate::backend::Reply;
use crate::error::Result;

pub use super::args::{integer, not_integer, reply_error};
pub use super::exec::run_one as call;
pub use super::store::Store;

/// A native twin of one Lua script: `(store, KEYS, ARGV)`, run under the
/// store lock, so it is as atomic as the script is on Redis. `call` plays
/// `redis.call`; the store's clock plays TIME.
pub type Twin = fn(&mut Store, &[Vec<u8>], &[Vec<u8>]) -> Result<Reply>;

/// The scripts a store runs: EVALSHA finds a twin by the SHA1 of its script,
/// EVAL by the script's source; SCRIPT EXISTS asks the same question.
pub trait Scripts: Send + Sync {
  /// The twin of the script whose SHA1 is `sha` (lowercase hex).
  fn by_sha(&self, sha: &[u8]) -> Option<Twin>;
  /// The twin of the script whose source is `code`.
  fn by_code(&self, code: &[u8]) -> Option<Twin>;
}

/// What the twins' tests need: a store on a hand-moved clock, and whole
/// pipelines (EVALSHA as the JS layer sends it).
#[cfg(test)]
pub mod testing {
  pub use super::super::exec::run_pipeline;
  pub use super::super::store::tests::store;
}
