//! Native twins of the JWT blacklist, drafts and job queue scripts (the
//! `.lua` files beside this one), for `memory://`. Each runs its script's
//! commands in the same order through the store's own handlers (`call` plays
//! `redis.call`), so replies, errors and side effects match the Lua; TIME is
//! the store's clock.

use crate::args;
use crate::backend::memory::script::{call, integer, reply_error, Store};
use crate::backend::Reply;
use crate::error::{Error, Result};

/// A call with other KEYS / ARGV counts than the script's header lists
/// (on Redis the script would fail on a nil argument).
pub fn bad_call(script: &str) -> Error {
  reply_error(format!(
    "ERR wrong number of keys or arguments for script {script}"
  ))
}

/// `blacklist_revoke_all.lua`: SET key <now ms> PX <keep ms>; replies now.
pub fn blacklist_revoke_all(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  let ([key], [keep_ms]) = (keys, argv) else {
    return Err(bad_call("blacklist_revoke_all"));
  };
  let now = st.now();
  call(st, &args!["SET", key, now.to_string(), "PX", keep_ms])?;
  Ok(Reply::Int(i64::try_from(now).unwrap_or(i64::MAX)))
}

/// `drafts_save.lua`: merges a step and bumps `_version` unless the
/// expected version is stale; replies `[TTL, HGETALL]`, or the current
/// version on a conflict.
pub fn drafts_save(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  let ([key], [step, data, ttl_ms, updated_at, expected]) = (keys, argv) else {
    return Err(bad_call("drafts_save"));
  };
  let version = match call(st, &args!["HGET", key, "_version"])? {
    Reply::Bulk(raw) => lua_number(&raw).unwrap_or(0),
    _ => 0,
  };
  // An expected version that is not a number never matches, as in Lua.
  if !expected.is_empty() && lua_number(expected) != Some(version) {
    return Ok(Reply::Int(version));
  }
  let next = version.saturating_add(1).to_string();
  call(
    st,
    &args![
      "HSET",
      key,
      step,
      data,
      "_version",
      next,
      "_updatedAt",
      updated_at
    ],
  )?;
  call(st, &args!["PEXPIRE", key, ttl_ms])?;
  Ok(Reply::Array(vec![
    call(st, &args!["TTL", key])?,
    call(st, &args!["HGETALL", key])?,
  ]))
}

/// `queue_ack.lua`: removes the first job whose id is `id` from the
/// processing list; replies 1, or 0 when none matched.
pub fn queue_ack(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  let ([key], [id]) = (keys, argv) else {
    return Err(bad_call("queue_ack"));
  };
  let found = match st.read(key) {
    Some(value) => value
      .as_list()?
      .iter()
      .find(|item| job_id_is(item, id))
      .cloned(),
    None => None,
  };
  match found {
    Some(item) => call(st, &args!["LREM", key, "1", item]),
    None => Ok(Reply::Int(0)),
  }
}

/// The script's `ok and type(job) == 'table' and job.id or item`, compared
/// with `id`: a JSON object's `id` when present (only a string can equal
/// `id`), the raw item when it has none or is not a JSON object (cjson
/// gives arrays the same missing `id`; `false` falls through to the item).
fn job_id_is(item: &[u8], id: &[u8]) -> bool {
  use serde_json::Value;
  let own = match serde_json::from_slice::<Value>(item) {
    Ok(Value::Object(job)) => job.get("id").cloned(),
    _ => None,
  };
  match own {
    None | Some(Value::Bool(false)) => item == id,
    Some(Value::String(s)) => s.as_bytes() == id,
    Some(_) => false,
  }
}

/// Lua's `tonumber` for the integers these scripts store: surrounding
/// spaces allowed, anything else is not a number.
fn lua_number(raw: &[u8]) -> Option<i64> {
  integer(raw.trim_ascii()).ok()
}

#[cfg(test)]
mod tests {
  use super::super::tests::eval;
  use super::*;
  use crate::backend::memory::script::testing::{run_pipeline, store};
  use crate::error::Kind;

  fn run(st: &mut Store, cmd: &[&str]) -> Reply {
    let cmd: Vec<Vec<u8>> = cmd.iter().map(|a| a.as_bytes().to_vec()).collect();
    match run_pipeline(st, &[cmd]).pop() {
      Some(Ok(reply)) => reply,
      other => panic!("{other:?}"),
    }
  }

  fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
  }

  #[test]
  fn revoke_all_stores_the_store_time_in_ms() {
    let (mut st, _) = store(None);
    let now = i64::try_from(st.now()).unwrap_or_default();
    assert_eq!(
      eval(&mut st, "blacklist_revoke_all", &["u"], &["7200000"]),
      Ok(Reply::Int(now))
    );
    assert_eq!(run(&mut st, &["GET", "u"]), bulk(&now.to_string()));
    assert_eq!(run(&mut st, &["PTTL", "u"]), Reply::Int(7_200_000));
  }

  #[test]
  fn drafts_save_merges_bumps_and_refuses_a_stale_version() {
    let (mut st, _) = store(None);
    let saved = eval(
      &mut st,
      "drafts_save",
      &["d"],
      &["a", "1", "60000", "t1", ""],
    );
    let fields = |v: &[&str]| Reply::Array(v.iter().map(|s| bulk(s)).collect());
    assert_eq!(
      saved,
      Ok(Reply::Array(vec![
        Reply::Int(60),
        fields(&["a", "1", "_version", "1", "_updatedAt", "t1"])
      ]))
    );
    let saved = eval(
      &mut st,
      "drafts_save",
      &["d"],
      &["b", "2", "90000", "t2", "1"],
    );
    assert_eq!(
      saved,
      Ok(Reply::Array(vec![
        Reply::Int(90),
        fields(&["a", "1", "_version", "2", "_updatedAt", "t2", "b", "2"])
      ]))
    );
    // Stale or not a number: the current version, nothing written.
    for stale in ["1", "x"] {
      assert_eq!(
        eval(
          &mut st,
          "drafts_save",
          &["d"],
          &["c", "3", "1000", "t3", stale]
        ),
        Ok(Reply::Int(2))
      );
    }
    assert_eq!(run(&mut st, &["HLEN", "d"]), Reply::Int(4));
    assert_eq!(run(&mut st, &["TTL", "d"]), Reply::Int(90));
    // A missing draft is version 0.
    assert_eq!(
      eval(
        &mut st,
        "drafts_save",
        &["new"],
        &["a", "1", "1000", "t", "3"]
      ),
      Ok(Reply::Int(0))
    );
    assert_eq!(run(&mut st, &["EXISTS", "new"]), Reply::Int(0));
    run(&mut st, &["SET", "s", "x"]);
    let wrong = eval(&mut st, "drafts_save", &["s"], &["a", "1", "1000", "t", ""]);
    assert_eq!(wrong.map_err(|e| e.kind()), Err(Kind::Redis));
  }

  #[test]
  fn queue_ack_removes_the_first_job_with_the_id() {
    let (mut st, _) = store(None);
    let j1 = r#"{"id":"j1","payload":1}"#;
    let j2 = r#"{"id":"j2","payload":2}"#;
    run(&mut st, &["RPUSH", "p", j1, j2, "raw", j1]);
    assert_eq!(
      eval(&mut st, "queue_ack", &["p"], &["nope"]),
      Ok(Reply::Int(0))
    );
    assert_eq!(
      eval(&mut st, "queue_ack", &["p"], &["j1"]),
      Ok(Reply::Int(1))
    );
    assert_eq!(
      eval(&mut st, "queue_ack", &["p"], &["raw"]),
      Ok(Reply::Int(1))
    );
    let left = Reply::Array(vec![bulk(j2), bulk(j1)]);
    assert_eq!(run(&mut st, &["LRANGE", "p", "0", "-1"]), left);
    assert_eq!(
      eval(&mut st, "queue_ack", &["missing"], &["j1"]),
      Ok(Reply::Int(0))
    );
  }

  #[test]
  fn job_ids_follow_the_lua_rules() {
    assert!(job_id_is(br#"{"id":"j1","payload":1}"#, b"j1"));
    assert!(!job_id_is(br#"{"id":"j1"}"#, b"j2"));
    // No id, a JSON array or not JSON at all: the raw text is the id.
    for raw in [
      &br#"{"ticket":7}"#[..],
      b"[1,2]",
      b"plain text",
      br#""s""#,
      b"{\"id\":false}",
    ] {
      assert!(job_id_is(raw, raw), "{}", String::from_utf8_lossy(raw));
    }
    // A non-string id matches nothing, not even the raw text.
    for raw in [&br#"{"id":5}"#[..], br#"{"id":null}"#, br#"{"id":{}}"#] {
      assert!(!job_id_is(raw, raw));
      assert!(!job_id_is(raw, b"5"));
    }
  }

  #[test]
  fn lua_numbers() {
    assert_eq!(lua_number(b"12"), Some(12));
    assert_eq!(lua_number(b" 3 "), Some(3));
    assert_eq!(lua_number(b"x"), None);
    assert_eq!(lua_number(b""), None);
  }
}
