//! Command-level tests of the embedded backend: replies and errors as Redis 7
//! gives them, expiry on a hand-moved clock, transactions, SCAN, eviction,
//! blocking pops and the store registry.

use std::sync::Arc;
use std::time::Duration;

use super::exec::run_pipeline;
use super::store::tests::{store, FakeClock};
use super::store::Store;
use super::*;
use crate::error::Kind;

fn words(cmd: &str) -> Args {
  cmd
    .split_whitespace()
    .map(|w| w.as_bytes().to_vec())
    .collect()
}

fn run(st: &mut Store, cmd: &str) -> Result<Reply> {
  run_pipeline(st, &[words(cmd)])
    .pop()
    .unwrap_or_else(|| Err(Error::invalid("no reply")))
}

/// Runs a command that must succeed.
fn ok(st: &mut Store, cmd: &str) -> Reply {
  match run(st, cmd) {
    Ok(reply) => reply,
    Err(e) => panic!("{cmd}: {e}"),
  }
}

/// Runs a command that must fail; returns its kind and message.
fn fail(st: &mut Store, cmd: &str) -> (Kind, String) {
  match run(st, cmd) {
    Ok(reply) => panic!("{cmd}: expected an error, got {reply:?}"),
    Err(e) => (e.kind(), e.message().to_string()),
  }
}

fn bulk(s: &str) -> Reply {
  Reply::Bulk(s.as_bytes().to_vec())
}

fn status(s: &str) -> Reply {
  Reply::Status(s.into())
}

fn bulks(items: &[&str]) -> Reply {
  Reply::Array(items.iter().map(|s| bulk(s)).collect())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

fn later(st: &mut Store, clock: &FakeClock, ms: u64) {
  clock.advance(ms);
  st.tick();
}

#[test]
fn ping_echo_and_plain_strings() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "PING"), status("PONG"));
  assert_eq!(ok(&mut st, "ping hi"), bulk("hi"));
  assert_eq!(ok(&mut st, "ECHO x"), bulk("x"));
  assert_eq!(ok(&mut st, "SET k v"), status("OK"));
  assert_eq!(ok(&mut st, "get k"), bulk("v"));
  assert_eq!(ok(&mut st, "GET nope"), Reply::Nil);
  assert_eq!(ok(&mut st, "STRLEN k"), Reply::Int(1));
  assert_eq!(ok(&mut st, "GETDEL k"), bulk("v"));
  assert_eq!(ok(&mut st, "GETDEL k"), Reply::Nil);
  assert_eq!(ok(&mut st, "MSET a 1 b 2"), status("OK"));
  ok(&mut st, "RPUSH l x");
  assert_eq!(
    ok(&mut st, "MGET a l b c"),
    Reply::Array(vec![bulk("1"), Reply::Nil, bulk("2"), Reply::Nil])
  );
  assert_eq!(
    fail(&mut st, "MSET a 1 b").1,
    "ERR wrong number of arguments for 'mset' command"
  );
}

#[test]
fn set_conditions_and_get() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "SET k 1 XX"), Reply::Nil);
  assert_eq!(ok(&mut st, "SET k 1 NX"), status("OK"));
  assert_eq!(ok(&mut st, "SET k 2 NX"), Reply::Nil);
  assert_eq!(ok(&mut st, "SET k 3 XX GET"), bulk("1"));
  assert_eq!(
    ok(&mut st, "SET k 4 NX GET"),
    bulk("3"),
    "NX blocked, old value"
  );
  assert_eq!(ok(&mut st, "GET k"), bulk("3"));
  assert_eq!(ok(&mut st, "SET n 1 GET"), Reply::Nil);
  assert_eq!(ok(&mut st, "SETNX n 2"), Reply::Int(0));
  assert_eq!(ok(&mut st, "SETNX m 2"), Reply::Int(1));
  ok(&mut st, "LPUSH l x");
  assert_eq!(fail(&mut st, "SET l v GET").1, WRONGTYPE);
  assert_eq!(ok(&mut st, "LLEN l"), Reply::Int(1), "nothing written");
  assert_eq!(
    ok(&mut st, "SET l v"),
    status("OK"),
    "plain SET replaces any type"
  );
  assert_eq!(ok(&mut st, "TYPE l"), status("string"));
}

#[test]
fn set_expiry_options() {
  let (mut st, clock) = store(None);
  ok(&mut st, "SET a v EX 10");
  assert_eq!(ok(&mut st, "PTTL a"), Reply::Int(10_000));
  ok(&mut st, "SET a v PX 1500");
  assert_eq!(ok(&mut st, "PTTL a"), Reply::Int(1_500));
  assert_eq!(ok(&mut st, "TTL a"), Reply::Int(2), "rounded like Redis");
  ok(&mut st, "SET a w KEEPTTL");
  assert_eq!(ok(&mut st, "PTTL a"), Reply::Int(1_500));
  ok(&mut st, "SET a w");
  assert_eq!(
    ok(&mut st, "PTTL a"),
    Reply::Int(-1),
    "a plain SET clears the TTL"
  );
  let at = st.now() + 2_000;
  ok(&mut st, &format!("SET a v PXAT {at}"));
  assert_eq!(ok(&mut st, "PTTL a"), Reply::Int(2_000));
  let secs = st.now() / 1000 + 3;
  ok(&mut st, &format!("SET b v EXAT {secs}"));
  assert!(matches!(ok(&mut st, "TTL b"), Reply::Int(2..=3)));
  assert_eq!(ok(&mut st, "SET c v PXAT 1"), status("OK"));
  assert_eq!(
    ok(&mut st, "EXISTS c"),
    Reply::Int(0),
    "a past deadline deletes"
  );
  ok(&mut st, "SETEX d 5 v");
  ok(&mut st, "PSETEX e 5 v");
  assert_eq!(ok(&mut st, "PTTL d"), Reply::Int(5_000));
  later(&mut st, &clock, 5);
  assert_eq!(ok(&mut st, "GET e"), Reply::Nil);
  for bad in ["SET a v EX 0", "SET a v PX -5", "SETEX a 0 v"] {
    let (kind, message) = fail(&mut st, bad);
    assert_eq!(kind, Kind::Redis);
    assert!(
      message.starts_with("ERR invalid expire time in '"),
      "{bad}: {message}"
    );
  }
  assert_eq!(fail(&mut st, "SET a v EX soon").1, NOT_INTEGER);
  for bad in [
    "SET a v NX XX",
    "SET a v EX 1 PX 1",
    "SET a v EX 1 KEEPTTL",
    "SET a v EX",
    "SET a v BOGUS",
  ] {
    assert_eq!(fail(&mut st, bad).1, "ERR syntax error", "{bad}");
  }
  assert_eq!(
    ok(&mut st, "SET a v EX 1 EX 9"),
    status("OK"),
    "a repeated option"
  );
  assert_eq!(ok(&mut st, "PTTL a"), Reply::Int(9_000));
}

#[test]
fn expiry_edges_on_a_moving_clock() {
  let (mut st, clock) = store(None);
  ok(&mut st, "SET k v PX 100");
  later(&mut st, &clock, 99);
  assert_eq!(ok(&mut st, "PTTL k"), Reply::Int(1));
  assert_eq!(ok(&mut st, "GET k"), bulk("v"));
  later(&mut st, &clock, 1);
  assert_eq!(ok(&mut st, "GET k"), Reply::Nil, "gone at its deadline");
  assert_eq!(ok(&mut st, "TTL k"), Reply::Int(-2));
  assert_eq!(ok(&mut st, "TTL never"), Reply::Int(-2));
  ok(&mut st, "SET p v");
  assert_eq!(ok(&mut st, "TTL p"), Reply::Int(-1));
  // An expired key is invisible to every command, and replaced like a missing one.
  ok(&mut st, "RPUSH l a");
  ok(&mut st, "PEXPIRE l 10");
  later(&mut st, &clock, 10);
  assert_eq!(ok(&mut st, "EXISTS l"), Reply::Int(0));
  assert_eq!(ok(&mut st, "TYPE l"), status("none"));
  assert_eq!(ok(&mut st, "SET l s"), status("OK"));
  assert_eq!(ok(&mut st, "TTL l"), Reply::Int(-1));
  ok(&mut st, "SET x 1 PX 10");
  ok(&mut st, "INCR x");
  assert_eq!(ok(&mut st, "PTTL x"), Reply::Int(10), "INCR keeps the TTL");
  later(&mut st, &clock, 10);
  assert_eq!(
    ok(&mut st, "INCR x"),
    Reply::Int(1),
    "an expired counter restarts"
  );
  assert_eq!(ok(&mut st, "DBSIZE"), Reply::Int(3));
}

#[test]
fn expired_keys_nobody_reads_are_reclaimed_by_later_commands() {
  let (mut st, clock) = store(None);
  for i in 0..30 {
    ok(&mut st, &format!("SET k{i} v PX 5"));
  }
  later(&mut st, &clock, 5);
  ok(&mut st, "PING");
  ok(&mut st, "PING");
  assert_eq!(st.len(), 0, "swept without being read");
}

#[test]
fn expire_options_follow_redis() {
  let (mut st, clock) = store(None);
  assert_eq!(ok(&mut st, "EXPIRE nope 10"), Reply::Int(0));
  ok(&mut st, "SET k v");
  assert_eq!(
    ok(&mut st, "EXPIRE k 10 XX"),
    Reply::Int(0),
    "XX needs a TTL"
  );
  assert_eq!(
    ok(&mut st, "EXPIRE k 10 GT"),
    Reply::Int(0),
    "no TTL is infinite"
  );
  assert_eq!(ok(&mut st, "EXPIRE k 10 LT"), Reply::Int(1));
  assert_eq!(ok(&mut st, "EXPIRE k 20 NX"), Reply::Int(0));
  assert_eq!(ok(&mut st, "PEXPIRE k 5000 GT"), Reply::Int(0));
  assert_eq!(ok(&mut st, "PEXPIRE k 50000 gt"), Reply::Int(1));
  assert_eq!(ok(&mut st, "PEXPIRE k 60000 LT"), Reply::Int(0));
  assert_eq!(ok(&mut st, "PEXPIRE k 1000 XX"), Reply::Int(1));
  assert_eq!(ok(&mut st, "PTTL k"), Reply::Int(1000));
  assert_eq!(ok(&mut st, "PERSIST k"), Reply::Int(1));
  assert_eq!(ok(&mut st, "PERSIST k"), Reply::Int(0));
  let at = (st.now() + 3_000).to_string();
  assert_eq!(ok(&mut st, &format!("PEXPIREAT k {at}")), Reply::Int(1));
  assert_eq!(ok(&mut st, "PTTL k"), Reply::Int(3_000));
  let at = (st.now() / 1000 + 100).to_string();
  assert_eq!(ok(&mut st, &format!("EXPIREAT k {at}")), Reply::Int(1));
  // A deadline in the past deletes, and says so.
  assert_eq!(ok(&mut st, "EXPIRE k -1"), Reply::Int(1));
  assert_eq!(ok(&mut st, "EXISTS k"), Reply::Int(0));
  ok(&mut st, "SET k v");
  assert_eq!(ok(&mut st, "EXPIREAT k 1"), Reply::Int(1));
  assert_eq!(ok(&mut st, "GET k"), Reply::Nil);
  // The tag-set idiom of the cache: NX gives a first TTL, GT only extends.
  ok(&mut st, "SADD t m");
  assert_eq!(ok(&mut st, "PEXPIRE t 100 NX"), Reply::Int(1));
  assert_eq!(ok(&mut st, "PEXPIRE t 50 GT"), Reply::Int(0));
  later(&mut st, &clock, 10);
  assert_eq!(ok(&mut st, "PEXPIRE t 200 GT"), Reply::Int(1));
  assert_eq!(ok(&mut st, "PTTL t"), Reply::Int(200));
  assert_eq!(
    fail(&mut st, "EXPIRE t 1 NX GT").1,
    "ERR NX and XX, GT or LT options at the same time are not compatible"
  );
  assert_eq!(
    fail(&mut st, "EXPIRE t 1 GT LT").1,
    "ERR GT and LT options at the same time are not compatible"
  );
  assert_eq!(
    fail(&mut st, "EXPIRE t 1 SOON").1,
    "ERR Unsupported option SOON"
  );
  assert_eq!(fail(&mut st, "EXPIRE t x").1, NOT_INTEGER);
  assert_eq!(
    fail(&mut st, "EXPIRE t 9223372036854775807").1,
    "ERR invalid expire time in 'expire' command"
  );
}

#[test]
fn expiretime_is_the_absolute_deadline() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "EXPIRETIME nope"), Reply::Int(-2));
  ok(&mut st, "SET k v");
  assert_eq!(ok(&mut st, "PEXPIRETIME k"), Reply::Int(-1));
  let at = st.now() / 1000 + 100;
  ok(&mut st, &format!("EXPIREAT k {at}"));
  assert_eq!(ok(&mut st, "EXPIRETIME k"), Reply::Int(at as i64));
  assert_eq!(ok(&mut st, "PEXPIRETIME k"), Reply::Int(at as i64 * 1000));
}

#[test]
fn incr_family_and_its_errors() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "INCR c"), Reply::Int(1));
  assert_eq!(ok(&mut st, "INCRBY c 10"), Reply::Int(11));
  assert_eq!(ok(&mut st, "DECR c"), Reply::Int(10));
  assert_eq!(ok(&mut st, "DECRBY c -5"), Reply::Int(15));
  assert_eq!(ok(&mut st, "GET c"), bulk("15"));
  assert_eq!(ok(&mut st, "DECRBY fresh 3"), Reply::Int(-3));
  for value in ["abc", "1.5", "01", "+1", "99999999999999999999"] {
    ok(&mut st, &format!("SET bad {value}"));
    assert_eq!(fail(&mut st, "INCR bad"), (Kind::Redis, NOT_INTEGER.into()));
  }
  assert_eq!(fail(&mut st, "INCRBY c x").1, NOT_INTEGER);
  ok(&mut st, "SET max 9223372036854775807");
  assert_eq!(
    fail(&mut st, "INCR max").1,
    "ERR increment or decrement would overflow"
  );
  assert_eq!(ok(&mut st, "GET max"), bulk("9223372036854775807"));
  assert_eq!(
    fail(&mut st, "DECRBY c -9223372036854775808").1,
    "ERR decrement would overflow"
  );
  ok(&mut st, "SADD s m");
  assert_eq!(fail(&mut st, "INCR s").1, WRONGTYPE);
  assert_eq!(ok(&mut st, "EXISTS nothing-left-behind"), Reply::Int(0));
}

#[test]
fn wrongtype_is_a_redis_error_and_writes_nothing() {
  let (mut st, _) = store(None);
  ok(&mut st, "SET s v");
  ok(&mut st, "HSET h f v");
  for cmd in [
    "GET h",
    "LPUSH s x",
    "RPOP s",
    "LRANGE s 0 -1",
    "HSET s f v",
    "HGET s f",
    "HGETALL s",
    "SADD s m",
    "SMEMBERS s",
    "SCARD s",
  ] {
    assert_eq!(fail(&mut st, cmd), (Kind::Redis, WRONGTYPE.into()), "{cmd}");
  }
  assert_eq!(ok(&mut st, "GET s"), bulk("v"));
}

#[test]
fn unknown_commands_and_arity() {
  let (mut st, _) = store(None);
  assert_eq!(
    fail(&mut st, "NO-SUCH-COMMAND a b"),
    (
      Kind::Redis,
      "ERR unknown command 'NO-SUCH-COMMAND', with args beginning with: 'a' 'b' ".into()
    )
  );
  assert_eq!(
    fail(&mut st, "GET"),
    (
      Kind::Redis,
      "ERR wrong number of arguments for 'get' command".into()
    )
  );
  assert_eq!(
    fail(&mut st, "get a b").1,
    "ERR wrong number of arguments for 'get' command"
  );
  assert_eq!(
    fail(&mut st, "HSET h f").1,
    "ERR wrong number of arguments for 'hset' command"
  );
  assert_eq!(
    fail(&mut st, "HSET h f v g").1,
    "ERR wrong number of arguments for 'hset' command"
  );
  assert_eq!(
    run_pipeline(&mut st, &[vec![]])
      .pop()
      .map(|r| r.map_err(|e| e.kind())),
    Some(Err(Kind::InvalidArgument))
  );
}

#[test]
fn keys_del_exists_type_and_flush() {
  let (mut st, _) = store(None);
  ok(&mut st, "MSET a 1 b 2");
  ok(&mut st, "HSET h f v");
  ok(&mut st, "SADD s m");
  ok(&mut st, "RPUSH l x");
  assert_eq!(ok(&mut st, "EXISTS a a b zz"), Reply::Int(3));
  for (key, kind) in [
    ("a", "string"),
    ("h", "hash"),
    ("s", "set"),
    ("l", "list"),
    ("zz", "none"),
  ] {
    assert_eq!(ok(&mut st, &format!("TYPE {key}")), status(kind));
  }
  assert_eq!(ok(&mut st, "DEL a zz"), Reply::Int(1));
  assert_eq!(ok(&mut st, "UNLINK b h"), Reply::Int(2));
  assert_eq!(ok(&mut st, "DBSIZE"), Reply::Int(2));
  assert_eq!(ok(&mut st, "FLUSHDB"), status("OK"));
  assert_eq!(ok(&mut st, "DBSIZE"), Reply::Int(0));
  assert_eq!(st.used_bytes(), 0);
  assert_eq!(fail(&mut st, "FLUSHDB NOW").1, "ERR syntax error");
}

#[test]
fn hashes() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "HSET h f v n 2"), Reply::Int(2));
  assert_eq!(ok(&mut st, "HSET h f w x 1"), Reply::Int(1));
  assert_eq!(ok(&mut st, "HGET h f"), bulk("w"));
  assert_eq!(ok(&mut st, "HGET h missing"), Reply::Nil);
  assert_eq!(ok(&mut st, "HGET nokey f"), Reply::Nil);
  assert_eq!(
    ok(&mut st, "HGETALL h"),
    bulks(&["f", "w", "n", "2", "x", "1"])
  );
  assert_eq!(
    ok(&mut st, "HMGET h n zz"),
    Reply::Array(vec![bulk("2"), Reply::Nil])
  );
  assert_eq!(ok(&mut st, "HLEN h"), Reply::Int(3));
  assert_eq!(ok(&mut st, "HEXISTS h x"), Reply::Int(1));
  assert_eq!(ok(&mut st, "HINCRBY h n 5"), Reply::Int(7));
  assert_eq!(ok(&mut st, "HINCRBY h new -1"), Reply::Int(-1));
  assert_eq!(
    fail(&mut st, "HINCRBY h f 1").1,
    "ERR hash value is not an integer"
  );
  assert_eq!(ok(&mut st, "HSETNX h f z"), Reply::Int(0));
  assert_eq!(ok(&mut st, "HDEL h f n x new zz"), Reply::Int(4));
  assert_eq!(
    ok(&mut st, "EXISTS h"),
    Reply::Int(0),
    "an emptied hash is deleted"
  );
  assert_eq!(ok(&mut st, "HGETALL h"), Reply::Array(vec![]));
}

#[test]
fn sets() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "SADD s b a b"), Reply::Int(2));
  assert_eq!(ok(&mut st, "SADD s c a"), Reply::Int(1));
  assert_eq!(ok(&mut st, "SMEMBERS s"), bulks(&["b", "a", "c"]));
  assert_eq!(ok(&mut st, "SCARD s"), Reply::Int(3));
  assert_eq!(ok(&mut st, "SISMEMBER s a"), Reply::Int(1));
  assert_eq!(ok(&mut st, "SREM s a zz"), Reply::Int(1));
  assert_eq!(ok(&mut st, "SREM s b c"), Reply::Int(2));
  assert_eq!(ok(&mut st, "EXISTS s"), Reply::Int(0));
  assert_eq!(ok(&mut st, "SMEMBERS s"), Reply::Array(vec![]));
  assert_eq!(ok(&mut st, "SCARD s"), Reply::Int(0));
}

#[test]
fn lists_and_lmove() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "RPUSH l a b c"), Reply::Int(3));
  assert_eq!(ok(&mut st, "LPUSH l z y"), Reply::Int(5));
  assert_eq!(
    ok(&mut st, "LRANGE l 0 -1"),
    bulks(&["y", "z", "a", "b", "c"])
  );
  assert_eq!(ok(&mut st, "LRANGE l -2 100"), bulks(&["b", "c"]));
  assert_eq!(ok(&mut st, "LRANGE l 3 1"), bulks(&[]));
  assert_eq!(ok(&mut st, "LINDEX l -1"), bulk("c"));
  assert_eq!(ok(&mut st, "LINDEX l 9"), Reply::Nil);
  assert_eq!(ok(&mut st, "LPOP l"), bulk("y"));
  assert_eq!(ok(&mut st, "RPOP l 2"), bulks(&["c", "b"]));
  assert_eq!(ok(&mut st, "LPOP l 0"), bulks(&[]));
  assert_eq!(ok(&mut st, "LPOP nope 2"), Reply::Nil);
  assert_eq!(
    fail(&mut st, "LPOP l -1").1,
    "ERR value is out of range, must be positive"
  );
  assert_eq!(ok(&mut st, "LLEN l"), Reply::Int(2));
  assert_eq!(ok(&mut st, "LMOVE l q RIGHT LEFT"), bulk("a"));
  assert_eq!(ok(&mut st, "RPOPLPUSH l q"), bulk("z"));
  assert_eq!(
    ok(&mut st, "EXISTS l"),
    Reply::Int(0),
    "an emptied list is deleted"
  );
  assert_eq!(ok(&mut st, "LMOVE l q LEFT LEFT"), Reply::Nil);
  assert_eq!(ok(&mut st, "LRANGE q 0 -1"), bulks(&["z", "a"]));
  assert_eq!(ok(&mut st, "LMOVE q q LEFT RIGHT"), bulk("z"), "rotation");
  assert_eq!(ok(&mut st, "LRANGE q 0 -1"), bulks(&["a", "z"]));
  assert_eq!(fail(&mut st, "LMOVE q q UP DOWN").1, "ERR syntax error");
  ok(&mut st, "SET s v");
  assert_eq!(fail(&mut st, "LMOVE q s LEFT LEFT").1, WRONGTYPE);
  assert_eq!(ok(&mut st, "LLEN q"), Reply::Int(2), "nothing popped");
  ok(&mut st, "RPUSH r a b a c a");
  assert_eq!(ok(&mut st, "LREM r -2 a"), Reply::Int(2));
  assert_eq!(ok(&mut st, "LRANGE r 0 -1"), bulks(&["a", "b", "c"]));
  assert_eq!(ok(&mut st, "LREM r 0 a"), Reply::Int(1));
  assert_eq!(ok(&mut st, "LTRIM r 1 -1"), status("OK"));
  assert_eq!(ok(&mut st, "LRANGE r 0 -1"), bulks(&["c"]));
  assert_eq!(ok(&mut st, "LTRIM r 5 9"), status("OK"));
  assert_eq!(ok(&mut st, "EXISTS r"), Reply::Int(0));
}

#[test]
fn blocking_commands_answer_at_once_in_a_pipeline() {
  let (mut st, _) = store(None);
  assert_eq!(ok(&mut st, "BRPOP a b 1"), Reply::Nil);
  ok(&mut st, "RPUSH b x y");
  assert_eq!(ok(&mut st, "BRPOP a b 1"), bulks(&["b", "y"]));
  assert_eq!(ok(&mut st, "BLPOP a b 0"), bulks(&["b", "x"]));
  ok(&mut st, "RPUSH b z");
  assert_eq!(ok(&mut st, "BLMOVE b c RIGHT LEFT 0.5"), bulk("z"));
  assert_eq!(ok(&mut st, "BRPOPLPUSH c d 0"), bulk("z"));
  assert_eq!(fail(&mut st, "BRPOP a -1").1, "ERR timeout is negative");
  assert_eq!(
    fail(&mut st, "BRPOP a soon").1,
    "ERR timeout is not a float or out of range"
  );
}

#[test]
fn multi_exec_queues_then_runs_atomically() {
  let (mut st, _) = store(None);
  let replies = run_pipeline(
    &mut st,
    &[
      words("SET before 1"),
      words("MULTI"),
      words("SET k 0 PX 5000 NX"),
      words("INCRBY k 3"),
      words("LPUSH k x"),
      words("EXEC"),
      words("GET k"),
    ],
  );
  let replies: Vec<_> = replies
    .into_iter()
    .map(|r| r.map_err(|e| e.message().to_string()))
    .collect();
  assert_eq!(
    replies,
    vec![
      Ok(status("OK")),
      Ok(status("OK")),
      Ok(status("QUEUED")),
      Ok(status("QUEUED")),
      Ok(status("QUEUED")),
      Ok(Reply::Array(vec![
        status("OK"),
        Reply::Int(3),
        Reply::Error(WRONGTYPE.into()),
      ])),
      Ok(bulk("3")),
    ]
  );
  assert_eq!(ok(&mut st, "PTTL k"), Reply::Int(5000));
}

#[test]
fn a_transaction_with_a_refused_command_is_discarded() {
  let (mut st, _) = store(None);
  let replies = run_pipeline(
    &mut st,
    &[
      words("MULTI"),
      words("SET k v"),
      words("GET"),
      words("EXEC"),
      words("EXISTS k"),
      words("EXEC"),
      words("DISCARD"),
      words("MULTI"),
      words("MULTI"),
      words("SET k v"),
      words("DISCARD"),
      words("EXISTS k"),
    ],
  );
  let messages: Vec<_> = replies
    .into_iter()
    .map(|r| match r {
      Ok(reply) => format!("{reply:?}"),
      Err(e) => e.message().to_string(),
    })
    .collect();
  assert_eq!(
    messages,
    [
      "Status(\"OK\")",
      "Status(\"QUEUED\")",
      "ERR wrong number of arguments for 'get' command",
      "EXECABORT Transaction discarded because of previous errors.",
      "Int(0)",
      "ERR EXEC without MULTI",
      "ERR DISCARD without MULTI",
      "Status(\"OK\")",
      "ERR MULTI calls can not be nested",
      "Status(\"QUEUED\")",
      "Status(\"OK\")",
      "Int(0)",
    ]
  );
}

fn scan_all(st: &mut Store, extra: &str) -> Vec<Vec<u8>> {
  let mut cursor = "0".to_string();
  let mut keys = Vec::new();
  let mut rounds = 0;
  loop {
    rounds += 1;
    assert!(rounds < 10_000, "SCAN does not terminate");
    let Reply::Array(parts) = ok(st, &format!("SCAN {cursor} {extra}")) else {
      panic!("SCAN reply is not an array");
    };
    let [Reply::Bulk(next), Reply::Array(batch)] = parts.as_slice() else {
      panic!("unexpected SCAN reply {parts:?}");
    };
    for key in batch {
      if let Reply::Bulk(k) = key {
        keys.push(k.clone());
      }
    }
    cursor = String::from_utf8_lossy(next).into_owned();
    if cursor == "0" {
      return keys;
    }
  }
}

#[test]
fn scan_full_iteration_with_match_count_and_type() {
  let (mut st, _) = store(None);
  for i in 0..250 {
    ok(&mut st, &format!("SET user:{i} v"));
    ok(&mut st, &format!("SET post:{i} v"));
  }
  ok(&mut st, "SADD user:set m");
  let mut users = scan_all(&mut st, "MATCH user:* COUNT 7");
  users.sort();
  let mut want: Vec<Vec<u8>> = (0..250).map(|i| format!("user:{i}").into_bytes()).collect();
  want.push(b"user:set".to_vec());
  want.sort();
  assert_eq!(users, want);
  assert_eq!(scan_all(&mut st, "").len(), 501);
  assert_eq!(scan_all(&mut st, "MATCH user:1? TYPE string").len(), 10);
  assert_eq!(scan_all(&mut st, "TYPE set"), vec![b"user:set".to_vec()]);
  assert_eq!(fail(&mut st, "SCAN x").1, "ERR invalid cursor");
  assert_eq!(fail(&mut st, "SCAN 0 COUNT 0").1, "ERR syntax error");
  assert_eq!(fail(&mut st, "SCAN 0 MATCH").1, "ERR syntax error");
  assert_eq!(
    ok(&mut st, "KEYS post:24?"),
    bulks(&[
      "post:240", "post:241", "post:242", "post:243", "post:244", "post:245", "post:246",
      "post:247", "post:248", "post:249"
    ])
  );
}

#[test]
fn scan_skips_expired_keys() {
  let (mut st, clock) = store(None);
  ok(&mut st, "SET a v PX 10");
  ok(&mut st, "SET b v");
  later(&mut st, &clock, 10);
  assert_eq!(scan_all(&mut st, "COUNT 1000"), vec![b"b".to_vec()]);
}

#[test]
fn max_bytes_evicts_least_recently_used_and_counts_it() {
  let per_key = store::ENTRY_OVERHEAD + 4 + 100;
  let (mut st, _) = store(Some(per_key * 10));
  let value = "x".repeat(100);
  for i in 0..10 {
    ok(&mut st, &format!("SET k:{i:02} {value}"));
  }
  ok(&mut st, "GET k:00");
  for i in 10..15 {
    ok(&mut st, &format!("SET k:{i:02} {value}"));
  }
  assert_eq!(ok(&mut st, "DBSIZE"), Reply::Int(10));
  assert_eq!(
    ok(&mut st, "EXISTS k:00"),
    Reply::Int(1),
    "recently read survives"
  );
  assert_eq!(ok(&mut st, "EXISTS k:01"), Reply::Int(0));
  assert!(st.used_bytes() <= per_key * 10);
  let Reply::Bulk(info) = ok(&mut st, "INFO") else {
    panic!("INFO is not a bulk string");
  };
  let summary: serde_json::Value =
    serde_json::from_str(&crate::info::summarize(&String::from_utf8_lossy(&info)))
      .unwrap_or_default();
  assert_eq!(summary["evictions"], 5);
  assert_eq!(summary["keys"], 10);
  assert_eq!(summary["hits"], 1);
}

#[test]
fn info_reports_hits_misses_memory_and_keyspace() {
  let (mut st, _) = store(None);
  let empty = match ok(&mut st, "INFO") {
    Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
    _ => String::new(),
  };
  assert!(!empty.contains("db0:"), "no keyspace line for an empty db");
  ok(&mut st, "SET a 1 EX 100");
  ok(&mut st, "SET b 2");
  ok(&mut st, "GET a");
  ok(&mut st, "GET zz");
  let info = match ok(&mut st, "INFO keyspace") {
    Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
    _ => String::new(),
  };
  assert!(
    info.contains("db0:keys=2,expires=1,avg_ttl=0\r\n"),
    "{info}"
  );
  assert!(info.contains("keyspace_hits:1\r\n"));
  assert!(info.contains("keyspace_misses:1\r\n"));
  assert!(info.contains("used_memory_human:"));
}

#[test]
fn time_and_scripts() {
  let (mut st, _) = store(None);
  let now = st.now();
  assert_eq!(
    ok(&mut st, "TIME"),
    bulks(&[
      &(now / 1000).to_string(),
      &((now % 1000) * 1000).to_string()
    ])
  );
  assert_eq!(ok(&mut st, "SCRIPT FLUSH"), status("OK"));
  let sha = redis::Script::new("return 1").get_hash().to_string();
  assert_eq!(
    ok(&mut st, "SCRIPT LOAD return"),
    bulk(redis::Script::new("return").get_hash())
  );
  assert_eq!(
    ok(&mut st, &format!("SCRIPT EXISTS {sha}")),
    Reply::Array(vec![Reply::Int(0)])
  );
  let (kind, message) = fail(&mut st, &format!("EVALSHA {sha} 0"));
  assert_eq!(kind, Kind::Redis);
  assert!(message.starts_with("NOSCRIPT"), "{message}");
  assert_eq!(fail(&mut st, "EVAL return 0").0, Kind::InvalidArgument);
  // As on Redis 7, an unknown SHA is reported before a bad key count.
  assert!(fail(&mut st, "EVALSHA abc 2 k").1.starts_with("NOSCRIPT"));
}

/// The options of a memory:// URL, with the library's scripts.
fn options(url: &str) -> Options {
  let url = crate::config::MemoryUrl::parse(url)
    .and_then(|r| r.ok())
    .unwrap_or_default();
  Options {
    name: url.name,
    max_bytes: url.max_bytes,
    scripts: &crate::features::scripts::LibraryScripts,
  }
}

fn backend(url: &str) -> MemoryBackend {
  MemoryBackend::open(&options(url), Arc::new(|_| {}), None)
}

/// A backend whose invalidations are recorded.
fn listening(url: &str) -> (MemoryBackend, Arc<std::sync::Mutex<Vec<Invalidation>>>) {
  let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
  let sink = heard.clone();
  let tracking: InvalidationSink = Arc::new(move |i| {
    if let Ok(mut heard) = sink.lock() {
      heard.push(i);
    }
  });
  (
    MemoryBackend::open(&options(url), Arc::new(|_| {}), Some(tracking)),
    heard,
  )
}

fn take(heard: &std::sync::Mutex<Vec<Invalidation>>) -> Vec<Invalidation> {
  heard
    .lock()
    .map(|mut h| std::mem::take(&mut *h))
    .unwrap_or_default()
}

#[tokio::test]
async fn clients_of_a_named_store_hear_of_each_others_changes_not_their_own() {
  let (a, heard_a) = listening("memory://coherence-test");
  let (b, heard_b) = listening("memory://coherence-test");
  let quiet = backend("memory://coherence-test");
  assert_eq!(one(&a, "SET k v").await, Ok(status("OK")));
  assert_eq!(one(&quiet, "DEL gone").await, Ok(Reply::Int(0)));
  assert_eq!(one(&quiet, "GET k").await, Ok(bulk("v")));
  assert_eq!(take(&heard_a), vec![]);
  assert_eq!(
    take(&heard_b),
    vec![Invalidation::Keys(vec![b"k".to_vec()])]
  );
  assert_eq!(one(&quiet, "PEXPIRE k 100000").await, Ok(Reply::Int(1)));
  for heard in [&heard_a, &heard_b] {
    assert_eq!(take(heard), vec![Invalidation::Keys(vec![b"k".to_vec()])]);
  }
  assert_eq!(one(&b, "FLUSHALL").await, Ok(status("OK")));
  assert_eq!(take(&heard_a), vec![Invalidation::All]);
  assert_eq!(take(&heard_b), vec![]);
  b.close();
  assert_eq!(one(&quiet, "SET k w").await, Ok(status("OK")));
  assert_eq!(take(&heard_b), vec![], "closed: no longer listening");
  assert_eq!(
    take(&heard_a),
    vec![Invalidation::Keys(vec![b"k".to_vec()])]
  );
  for client in [a, quiet] {
    client.close();
  }
  let (private, heard) = listening("memory://");
  assert_eq!(one(&private, "SET k v").await, Ok(status("OK")));
  assert_eq!(take(&heard), vec![]);
  private.close();
}

async fn one(b: &MemoryBackend, cmd: &str) -> Result<Reply> {
  crate::backend::exec_one(b, words(cmd)).await
}

#[tokio::test]
async fn named_stores_are_shared_and_freed_with_their_last_client() {
  let a = backend("memory://registry-test");
  let b = backend("memory://registry-test");
  let private = backend("memory://");
  assert_eq!(one(&a, "SET k v").await, Ok(status("OK")));
  assert_eq!(one(&b, "GET k").await, Ok(bulk("v")));
  assert_eq!(one(&private, "GET k").await, Ok(Reply::Nil));
  a.close();
  assert_eq!(
    one(&a, "GET k").await.map_err(|e| e.kind()),
    Err(Kind::Closed)
  );
  assert_eq!(one(&b, "GET k").await, Ok(bulk("v")), "b still holds it");
  b.close();
  let c = backend("memory://registry-test");
  assert_eq!(one(&c, "GET k").await, Ok(Reply::Nil), "freed, then new");
  assert_eq!(c.name(), "memory");
  assert!(c.first_connect().await.is_ok());
  c.close();
  private.close();
  assert!(named().iter().all(|(name, _)| name != "registry-test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_pop_is_woken_by_a_push() {
  let b = Arc::new(backend("memory://"));
  let waiter = {
    let b = b.clone();
    tokio::spawn(async move {
      b.exec_blocking(words("BLMOVE q p RIGHT LEFT 0"), Duration::from_secs(30))
        .await
    })
  };
  // The pop is blocked until something is pushed: nothing moved yet.
  tokio::time::sleep(Duration::from_millis(20)).await;
  assert_eq!(one(&b, "LLEN p").await, Ok(Reply::Int(0)));
  assert_eq!(one(&b, "LPUSH q job").await, Ok(Reply::Int(1)));
  let moved = tokio::time::timeout(Duration::from_secs(10), waiter).await;
  assert_eq!(moved.ok().and_then(|r| r.ok()), Some(Ok(bulk("job"))));
  assert_eq!(one(&b, "LRANGE p 0 -1").await, Ok(bulks(&["job"])));
}

#[tokio::test]
async fn a_blocked_pop_times_out_with_nil_and_ends_on_close() {
  let b = Arc::new(backend("memory://"));
  let timed_out = b
    .exec_blocking(words("BRPOP q 0"), Duration::from_millis(10))
    .await;
  assert_eq!(timed_out, Ok(Reply::Nil));
  assert_eq!(
    b.exec_blocking(words("GET k"), Duration::from_secs(5))
      .await,
    Ok(Reply::Nil),
    "a non-blocking command runs once"
  );
  let waiter = {
    let b = b.clone();
    tokio::spawn(async move {
      b.exec_blocking(words("BRPOP q 0"), Duration::from_secs(30))
        .await
    })
  };
  tokio::time::sleep(Duration::from_millis(20)).await;
  b.close();
  let ended = tokio::time::timeout(Duration::from_secs(10), waiter).await;
  assert_eq!(
    ended
      .ok()
      .and_then(|r| r.ok())
      .map(|r| r.map_err(|e| e.kind())),
    Some(Err(Kind::Closed))
  );
}

#[tokio::test]
async fn delete_matching_removes_every_match_in_batches() {
  let b = backend("memory://");
  for i in 0..120 {
    one(&b, &format!("SET a:{i} v")).await.ok();
  }
  one(&b, "SET b:1 v").await.ok();
  assert_eq!(b.delete_matching(b"a:*".to_vec(), 7).await, Ok(120));
  assert_eq!(one(&b, "DBSIZE").await, Ok(Reply::Int(1)));
}
