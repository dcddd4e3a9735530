//! The one interface every backend implements: a single Redis server today,
//! Redis Cluster and the embedded `memory://` store beside it.
//!
//! Commands travel as raw argument vectors (the Redis protocol's own shape), so
//! every helper is written once, against this trait, whatever the backend.

pub mod cluster;
mod completion;
pub mod lifecycle;
pub mod memory;
pub mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::{Error, Kind, Result};
/// The protocol's own types, defined in the `resp` leaf; re-exported here so
/// backend code names them where it always has.
pub use crate::resp::{Args, Reply};

pub use self::completion::{Completions, Decode, Done};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Connection life-cycle notifications, surfaced as the client's events.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
  Ready,
  Error(crate::error::Error),
  Reconnecting {
    attempt: u32,
    delay_ms: u64,
  },
  End,
  /// L1 entries left off the JS thread (an invalidation): JS drops its
  /// parsed copies. Internal, never shown to users.
  LocalChanged,
}

pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

pub trait Backend: Send + Sync {
  /// A short name for `health()`: `redis`, `cluster`, `memory`.
  fn name(&self) -> &'static str;

  /// Resolves once the first connection attempt has ended, with its outcome.
  fn first_connect(&self) -> BoxFuture<'_, Result<()>>;

  /// Runs `cmds` as one pipeline; each command keeps its own result. While
  /// disconnected every command fails at once with `ERR_UNAVAILABLE`: nothing
  /// is queued for a later replay.
  fn exec(&self, cmds: Vec<Args>) -> BoxFuture<'_, Vec<Result<Reply>>>;

  /// Deletes every key matching the glob `pattern` (already prefixed) by
  /// SCAN + UNLINK in batches of about `batch` keys, on every master, to the
  /// end of the keyspace. Returns how many keys were deleted.
  fn delete_matching(&self, pattern: Vec<u8>, batch: usize) -> BoxFuture<'_, Result<u64>>;

  /// Runs one blocking command (BLMOVE, BRPOP...) on a connection of its
  /// own, so it never delays other commands. `wait` is how long the command
  /// itself may block; the reply is awaited that long plus the command timeout.
  fn exec_blocking(&self, args: Args, wait: std::time::Duration) -> BoxFuture<'_, Result<Reply>>;

  /// Runs `cmds` at once on the calling thread when this backend never waits
  /// (the embedded store), so JS batches run in order, inline; `None` means
  /// go through `exec` on tokio.
  fn exec_now(&self, _cmds: &[Args]) -> Option<Vec<Result<Reply>>> {
    None
  }

  /// The live connection JS batches can be written to directly, if this
  /// backend has one; otherwise batches go through `exec` on tokio.
  fn pipe(&self) -> Option<Arc<redis::pipe::Pipe>> {
    None
  }

  /// Ends every task, timer and socket the backend owns.
  fn close(&self);
}

/// Runs one command and returns its reply.
pub async fn exec_one(backend: &dyn Backend, args: Args) -> Result<Reply> {
  backend
    .exec(vec![args])
    .await
    .pop()
    .unwrap_or_else(|| Err(crate::error::Error::unavailable("no reply")))
}

/// Deletes what `SCAN MATCH pattern COUNT batch` finds, to the end of the
/// keyspace `scan` walks (a server's, or one cluster node's), with UNLINKs
/// through `backend`; returns how many keys were deleted.
pub async fn scan_unlink<F, Fut>(
  backend: &dyn Backend,
  pattern: Vec<u8>,
  batch: usize,
  mut scan: F,
) -> Result<u64>
where
  F: FnMut(Args) -> Fut,
  Fut: Future<Output = Result<Reply>>,
{
  let count = batch.to_string();
  let mut cursor = b"0".to_vec();
  let mut deleted = 0u64;
  loop {
    let reply = scan(crate::args![
      b"SCAN", cursor, b"MATCH", pattern, b"COUNT", count
    ])
    .await?;
    let (next, keys) = split_scan(reply)?;
    if !keys.is_empty() {
      let mut unlink = vec![b"UNLINK".to_vec()];
      unlink.extend(keys);
      let n = exec_one(backend, unlink).await?;
      deleted += n.as_int().unwrap_or(0).max(0) as u64;
    }
    if next == b"0" {
      return Ok(deleted);
    }
    cursor = next;
  }
}

/// Splits a SCAN reply into the next cursor and the keys of this batch.
pub(crate) fn split_scan(reply: Reply) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
  let unexpected = || Error::new(Kind::Redis, "unexpected SCAN reply");
  let Reply::Array(mut parts) = reply else {
    return Err(unexpected());
  };
  if parts.len() != 2 {
    return Err(unexpected());
  }
  let keys = match parts.pop() {
    Some(Reply::Array(keys)) => keys
      .into_iter()
      .filter_map(|k| match k {
        Reply::Bulk(b) => Some(b),
        _ => None,
      })
      .collect(),
    _ => return Err(unexpected()),
  };
  match parts.pop() {
    Some(Reply::Bulk(cursor)) => Ok((cursor, keys)),
    _ => Err(unexpected()),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn scan_reply_splits_into_cursor_and_keys() {
    let reply = Reply::Array(vec![
      Reply::Bulk(b"17".to_vec()),
      Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Bulk(b"b".to_vec())]),
    ]);
    assert_eq!(
      split_scan(reply),
      Ok((b"17".to_vec(), vec![b"a".to_vec(), b"b".to_vec()]))
    );
    assert!(split_scan(Reply::Nil).is_err());
  }
}
