//! Batches on a cluster. The JS layer sends one microtask's commands as one
//! batch, whose keys may live in any slot: each command goes on its own,
//! all at once (the driver pipelines those that share a node), and the
//! replies come back in batch order. They reach the driver in batch order
//! (polled in order; its channel serves first come, first served), which
//! writes each node's commands in the order it got them: a GET after a SET
//! of the same key in one batch sees it.
//!
//! A transaction (MULTI ... EXEC, which the JS layer never splits across
//! batches) must reach one node as one pipeline, which the driver routes by
//! its first key. The library's transactions are single-key commands, their
//! key first; those of one key (`incr` with ttl, `drafts.take`) stay atomic.
//! `mset` writes keys of any slot: it runs as one transaction per slot, all
//! at once, answered as one (atomic per slot, not across slots).

use futures_util::future::{join_all, BoxFuture, FutureExt};
use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{RedisResult, Value};

use super::value::{convert, top_level};
use crate::backend::{Args, Reply};
use crate::error::{Error, Kind, Result};

/// Runs `cmds`, each keeping its own result, in order.
pub async fn run(conn: &ClusterConnection, cmds: Vec<Args>) -> Vec<Result<Reply>> {
  let parts: Vec<BoxFuture<'static, Vec<Result<Reply>>>> = segments(cmds)
    .into_iter()
    .map(|segment| {
      let mut conn = conn.clone();
      match segment {
        Segment::One(args) => async move {
          let is_info = name_is(&args, b"INFO");
          let value = conn.req_packed_command(&command(&args)).await;
          vec![if is_info { info(value) } else { reply(value) }]
        }
        .boxed(),
        Segment::Transaction(cmds) => async move { transaction(conn, cmds).await }.boxed(),
      }
    })
    .collect();
  join_all(parts).await.into_iter().flatten().collect()
}

enum Segment {
  One(Args),
  /// MULTI, the queued commands and EXEC (or DISCARD).
  Transaction(Vec<Args>),
}

fn name_is(args: &Args, name: &[u8]) -> bool {
  args.first().is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// Cuts a batch into single commands and whole transactions.
fn segments(cmds: Vec<Args>) -> Vec<Segment> {
  let mut out = Vec::new();
  let mut open: Option<Vec<Args>> = None;
  for args in cmds {
    match open.as_mut() {
      Some(tx) => {
        let ends = name_is(&args, b"EXEC") || name_is(&args, b"DISCARD");
        tx.push(args);
        if ends {
          out.extend(open.take().map(Segment::Transaction));
        }
      }
      None if name_is(&args, b"MULTI") => open = Some(vec![args]),
      None => out.push(Segment::One(args)),
    }
  }
  // A transaction left open by the batch still goes to one node, where the
  // server reports what is wrong with it.
  out.extend(open.map(Segment::Transaction));
  out
}

/// One pipeline to one node; each command keeps its own result.
async fn pipeline(mut conn: ClusterConnection, cmds: &[Args]) -> Vec<Result<Reply>> {
  let mut pipe = redis::pipe();
  for args in cmds {
    pipe.add_command(command(args));
  }
  match conn.req_packed_commands(&pipe, 0, cmds.len()).await {
    Ok(values) if values.len() == cmds.len() => values.into_iter().map(|v| reply(Ok(v))).collect(),
    Ok(_) => vec![Err(Error::new(Kind::Redis, "unexpected transaction reply")); cmds.len()],
    Err(err) => vec![Err(driver_error(err)); cmds.len()],
  }
}

/// MULTI, the queued commands, EXEC: one pipeline when every key is in one
/// slot, else one per slot, answered as if one (EXEC's array in order).
async fn transaction(conn: ClusterConnection, cmds: Vec<Args>) -> Vec<Result<Reply>> {
  let n = cmds.len();
  let groups = slot_groups(&cmds);
  if groups.len() < 2 {
    return pipeline(conn, &cmds).await;
  }
  let runs = groups.iter().map(|queued| {
    let mut part = vec![cmds[0].clone()];
    part.extend(queued.iter().map(|&i| cmds[i].clone()));
    part.push(cmds[n - 1].clone());
    let conn = conn.clone();
    async move { pipeline(conn, &part).await }
  });
  let mut out: Vec<Result<Reply>> = vec![Ok(Reply::Nil); n];
  let mut executed: Vec<Reply> = vec![Reply::Nil; n - 2];
  let mut exec_error = None;
  for (queued, mut replies) in groups.iter().zip(join_all(runs).await) {
    let exec = replies.pop();
    out[0] = replies.first().cloned().unwrap_or(Ok(Reply::Nil));
    for (&i, r) in queued.iter().zip(replies.into_iter().skip(1)) {
      out[i] = r;
    }
    match exec {
      Some(Ok(Reply::Array(results))) => {
        for (&i, r) in queued.iter().zip(results) {
          executed[i - 1] = r;
        }
      }
      Some(Err(err)) => exec_error = exec_error.or(Some(err)),
      _ => exec_error = exec_error.or(Some(Error::new(Kind::Redis, "unexpected EXEC reply"))),
    }
  }
  out[n - 1] = match exec_error {
    Some(err) => Err(err),
    None => Ok(Reply::Array(executed)),
  };
  out
}

/// The positions of a whole transaction's queued commands, grouped by the
/// slot of their first argument (the key), groups in order of first use.
/// Empty unless the transaction ends with EXEC.
fn slot_groups(cmds: &[Args]) -> Vec<Vec<usize>> {
  let mut groups: Vec<(u16, Vec<usize>)> = Vec::new();
  if cmds.len() < 3 || !name_is(&cmds[cmds.len() - 1], b"EXEC") {
    return Vec::new();
  }
  for (i, args) in cmds.iter().enumerate().take(cmds.len() - 1).skip(1) {
    let slot = args.get(1).map_or(0, |key| key_slot(key));
    match groups.iter_mut().find(|(s, _)| *s == slot) {
      Some((_, queued)) => queued.push(i),
      None => groups.push((slot, vec![i])),
    }
  }
  groups.into_iter().map(|(_, queued)| queued).collect()
}

/// The cluster slot of a key: CRC16 (XMODEM) of its hash tag, or of the
/// whole key when it has none, modulo 16384.
fn key_slot(key: &[u8]) -> u16 {
  let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
  });
  let mut crc: u16 = 0;
  for &byte in tagged.unwrap_or(key) {
    crc ^= u16::from(byte) << 8;
    for _ in 0..8 {
      crc = if crc & 0x8000 != 0 {
        (crc << 1) ^ 0x1021
      } else {
        crc << 1
      };
    }
  }
  crc % 16384
}

/// The driver's command of an argument vector.
pub fn command(args: &Args) -> redis::Cmd {
  let mut cmd = redis::Cmd::new();
  for arg in args {
    cmd.arg(arg.as_slice());
  }
  cmd
}

/// A driver outcome as ours; a server error reads as on a single server:
/// `CODE detail`.
pub fn reply(value: RedisResult<Value>) -> Result<Reply> {
  match value {
    Ok(value) => top_level(value),
    Err(err) => Err(driver_error(err)),
  }
}

fn driver_error(err: redis::RedisError) -> Error {
  match (err.code(), err.detail()) {
    (Some(code), Some(detail)) if !err.is_timeout() && !err.is_io_error() => {
      Error::new(Kind::Redis, format!("{code} {detail}"))
    }
    _ => Error::from(err),
  }
}

/// INFO goes to every master and comes back per node: the sections of all
/// nodes one after the other, so the summary adds up every node's keys.
fn info(value: RedisResult<Value>) -> Result<Reply> {
  match value {
    Ok(Value::Map(nodes)) => {
      let mut text = Vec::new();
      for (_, node) in nodes {
        if let Reply::Bulk(section) = convert(node) {
          text.extend(section);
          text.push(b'\n');
        }
      }
      Ok(Reply::Bulk(text))
    }
    other => reply(other),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn cmd(s: &str) -> Args {
    s.split(' ').map(|p| p.as_bytes().to_vec()).collect()
  }

  fn shape(segments: &[Segment]) -> Vec<usize> {
    segments
      .iter()
      .map(|s| match s {
        Segment::One(_) => 1,
        Segment::Transaction(cmds) => cmds.len() * 10,
      })
      .collect()
  }

  #[test]
  fn slots_follow_hash_tags() {
    // Values from CLUSTER KEYSLOT.
    assert_eq!(key_slot(b"foo"), 12182);
    assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
    assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
    assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
  }

  #[test]
  fn a_transaction_is_grouped_by_slot() {
    let tx = vec![
      cmd("MULTI"),
      cmd("SET foo 1"),
      cmd("SET bar 2"),
      cmd("SET foo 3"),
      cmd("EXEC"),
    ];
    assert_eq!(slot_groups(&tx), vec![vec![1, 3], vec![2]]);
    let one = vec![
      cmd("MULTI"),
      cmd("SET {t}a 1"),
      cmd("INCRBY {t}b 1"),
      cmd("EXEC"),
    ];
    assert_eq!(slot_groups(&one).len(), 1);
    assert!(slot_groups(&[cmd("MULTI"), cmd("SET a 1"), cmd("DISCARD")]).is_empty());
  }

  #[test]
  fn transactions_stay_whole_and_the_rest_goes_alone() {
    let batch = vec![
      cmd("GET a"),
      cmd("MULTI"),
      cmd("SET {t}x 1"),
      cmd("INCRBY {t}y 1"),
      cmd("exec"),
      cmd("GET b"),
    ];
    assert_eq!(shape(&segments(batch)), vec![1, 40, 1]);
    assert_eq!(shape(&segments(vec![cmd("MULTI"), cmd("GET a")])), vec![20]);
  }
}
