//! `memory://`'s twins of the rate-limit scripts (`ratelimit_*.lua`, beside
//! this file): the state where the script keeps it, the algorithm's pure
//! function (the same integers as the Lua, checked against it on a fake
//! clock), and the state written back when the script would write it,
//! expiring when the script's key does (`now + resetMs`). Time is the store's
//! clock, as TIME is on Redis.
//!
//! Where each script keeps its state: the fixed window as a plain count
//! that expires at its window's end (so the window is known from the key's
//! expiry), the others as a hash with the fields of `fields`.

use super::{Algorithm, FixedWindow, Gcra, Outcome, Params, SlidingWindow, State, TokenBucket};
use crate::args;
use crate::backend::memory::script::{call, not_integer, reply_error, Store};
use crate::backend::{Args, Reply};
use crate::error::Result;
use crate::features::scripts::bad_call;

pub fn fixed_window(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  limit(st, Algorithm::FixedWindow, keys, argv)
}

/// `ratelimit_fixed_window_open.lua`: gives a count without expiry the end of
/// its window on the store's clock; replies the ms left (-2 when it is gone).
pub fn fixed_window_open(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  let ([key], [window_ms]) = (keys, argv) else {
    return Err(bad_call("ratelimit_fixed_window_open"));
  };
  let window_ms = number(window_ms)?.max(1);
  match call(st, &args!["PTTL", key])?.as_int() {
    Some(-1) => {}
    Some(0) => return Ok(Reply::Int(1)),
    left => return Ok(Reply::Int(left.unwrap_or(-2))),
  }
  let now = st.now();
  let left = window_ms - now % window_ms;
  call(
    st,
    &args!["PEXPIREAT", key, now.saturating_add(left).to_string()],
  )?;
  Ok(Reply::Int(i64::try_from(left).unwrap_or(i64::MAX)))
}

pub fn sliding_window(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  limit(st, Algorithm::SlidingWindow, keys, argv)
}

pub fn token_bucket(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  limit(st, Algorithm::TokenBucket, keys, argv)
}

pub fn gcra(st: &mut Store, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Result<Reply> {
  limit(st, Algorithm::Gcra, keys, argv)
}

/// KEYS = [state key]; ARGV = [limit, window ms, burst, cost, '1' to peek].
/// Replies `[allowed 0|1, remaining, resetMs, retryAfterMs]`.
fn limit(
  st: &mut Store,
  algorithm: Algorithm,
  keys: &[Vec<u8>],
  argv: &[Vec<u8>],
) -> Result<Reply> {
  let ([key], [limit, window_ms, burst, cost, peek]) = (keys, argv) else {
    return Err(bad_call(algorithm.script()));
  };
  let window_ms = number(window_ms)?;
  let params = Params::new(number(limit)?, window_ms, number(burst)?)
    .map_err(|e| reply_error(format!("ERR {}", e.message())))?;
  let (cost, peek) = (number(cost)?, peek.as_slice() == b"1");
  let now = st.now();
  let state = match algorithm {
    Algorithm::FixedWindow => read_count(st, key, now, window_ms, peek)?,
    _ => read_hash(st, algorithm, key)?,
  };
  let (next, outcome) = algorithm.run(state.as_ref(), now, &params, cost, peek);
  if let Some(next) = next {
    let expires_at = now.saturating_add(outcome.reset_ms.max(1)).to_string();
    match next {
      State::FixedWindow(s) => {
        call(
          st,
          &args!["SET", key, s.count.to_string(), "PXAT", expires_at],
        )?;
      }
      _ => {
        let mut write: Args = args!["HSET", key];
        for (field, value) in fields(algorithm).iter().zip(encode(&next)) {
          write.push(field.as_bytes().to_vec());
          write.push(value.to_string().into_bytes());
        }
        call(st, &write)?;
        call(st, &args!["PEXPIREAT", key, expires_at])?;
      }
    }
  }
  Ok(reply(&outcome))
}

/// The fixed window's count and the window it belongs to: the one ending
/// when the key expires (the current one for a count without expiry, which
/// the script keeps counting). A consume of a count that is not an integer
/// fails, as the script's INCRBY does.
fn read_count(
  st: &mut Store,
  key: &[u8],
  now: u64,
  window_ms: u64,
  peek: bool,
) -> Result<Option<State>> {
  let count = match call(st, &args!["GET", key])? {
    Reply::Bulk(raw) => whole(&raw),
    _ => return Ok(None),
  };
  if count.is_none() && !peek {
    return Err(not_integer());
  }
  let expires_at = call(st, &args!["PEXPIRETIME", key])?
    .as_int()
    .and_then(|at| u64::try_from(at).ok());
  let window_start_ms = match expires_at {
    Some(at) => at.saturating_sub(window_ms),
    None => now - now % window_ms,
  };
  Ok(Some(State::FixedWindow(FixedWindow {
    window_start_ms,
    count: count.unwrap_or(0),
  })))
}

/// The hash the other scripts read with HMGET.
fn read_hash(st: &mut Store, algorithm: Algorithm, key: &[u8]) -> Result<Option<State>> {
  let mut read: Args = args!["HMGET", key];
  read.extend(fields(algorithm).iter().map(|f| f.as_bytes().to_vec()));
  let stored: Vec<Option<u64>> = match call(st, &read)? {
    Reply::Array(values) => values.iter().map(stored_number).collect(),
    _ => Vec::new(),
  };
  Ok(decode(algorithm, &stored))
}

/// The hash fields of each script that keeps a hash, in the order of
/// `decode` / `encode` (the fixed window keeps a plain count: `read_count`).
fn fields(algorithm: Algorithm) -> &'static [&'static str] {
  match algorithm {
    Algorithm::FixedWindow => &[],
    Algorithm::SlidingWindow => &["start", "count", "prev"],
    Algorithm::TokenBucket => &["tokens", "ts"],
    Algorithm::Gcra => &["tat", "frac"],
  }
}

/// The state the script's `tonumber(...)` reads amount to: its anchor field
/// (window start, `ts`, TAT) decides whether there is one, the others count
/// as 0 when missing.
fn decode(algorithm: Algorithm, v: &[Option<u64>]) -> Option<State> {
  let at = |i: usize| v.get(i).copied().flatten();
  let or0 = |i: usize| at(i).unwrap_or(0);
  match algorithm {
    Algorithm::FixedWindow => None,
    Algorithm::SlidingWindow => Some(State::SlidingWindow(SlidingWindow {
      window_start_ms: at(0)?,
      count: or0(1),
      previous: or0(2),
    })),
    Algorithm::TokenBucket => Some(State::TokenBucket(TokenBucket {
      tokens: or0(0),
      updated_ms: at(1)?,
    })),
    Algorithm::Gcra => Some(State::Gcra(Gcra {
      tat_ms: at(0)?,
      tat_frac: or0(1),
    })),
  }
}

fn encode(state: &State) -> Vec<u64> {
  match state {
    State::FixedWindow(_) => Vec::new(),
    State::SlidingWindow(s) => vec![s.window_start_ms, s.count, s.previous],
    State::TokenBucket(s) => vec![s.tokens, s.updated_ms],
    State::Gcra(s) => vec![s.tat_ms, s.tat_frac],
  }
}

/// The scripts' reply: `[allowed 0|1, remaining, resetMs, retryAfterMs]`.
pub(in crate::features) fn reply(o: &Outcome) -> Reply {
  let int = |n: u64| Reply::Int(i64::try_from(n).unwrap_or(i64::MAX));
  Reply::Array(vec![
    Reply::Int(i64::from(o.allowed)),
    int(o.remaining),
    int(o.reset_ms),
    int(o.retry_after_ms),
  ])
}

/// An ARGV number: a non-negative integer.
fn number(raw: &[u8]) -> Result<u64> {
  std::str::from_utf8(raw)
    .ok()
    .and_then(|s| s.parse().ok())
    .ok_or_else(|| reply_error("ERR rate-limit script arguments must be non-negative integers"))
}

/// A stored field; anything but a non-negative integer reads as missing.
fn stored_number(value: &Reply) -> Option<u64> {
  match value {
    Reply::Bulk(raw) => whole(raw),
    _ => None,
  }
}

/// Lua's `tonumber` for the non-negative integers the scripts store.
fn whole(raw: &[u8]) -> Option<u64> {
  std::str::from_utf8(raw).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::backend::memory::script::testing::store;
  use crate::features::scripts::tests::eval;

  #[test]
  fn each_script_replies_as_its_pure_twin_and_stores_the_state_until_reset() {
    let params = Params::new(3, 1000, 5).unwrap_or_else(|e| panic!("{e}"));
    for algorithm in super::super::ALGORITHMS {
      let (mut st, clock) = store(None);
      let name = algorithm.script();
      let mut state = None;
      // Consumes of cost 2 and a peek, on a clock that moves 150 ms a call.
      for step in 0..12 {
        let peek = step % 4 == 3;
        let argv = ["3", "1000", "5", "2", if peek { "1" } else { "0" }];
        let got = eval(&mut st, name, &["k"], &argv);
        let (next, want) = algorithm.run(state.as_ref(), st.now(), &params, 2, peek);
        assert_eq!(got, Ok(reply(&want)), "{name} step {step}");
        if next.is_some() {
          state = next;
          let pttl = call(&mut st, &args!["PTTL", "k"]);
          assert_eq!(
            pttl,
            Ok(Reply::Int(want.reset_ms as i64)),
            "{name} step {step}"
          );
        }
        clock.advance(150);
      }
    }
  }

  #[test]
  fn the_fixed_window_is_a_plain_count_expiring_at_the_window_end() {
    let (mut st, clock) = store(None);
    clock.advance(1_000 - st.now() % 1_000 + 250);
    st.tick();
    let end = st.now() + 750;
    let consume = ["3", "1000", "3", "2", "0"];
    let ok = |r: Result<Reply>| r.unwrap_or_else(|e| panic!("{e}"));
    let run = |st: &mut Store, cmd: &[&str]| {
      ok(call(
        st,
        &cmd.iter().map(|a| a.as_bytes().to_vec()).collect(),
      ))
    };
    assert_eq!(
      ok(eval(&mut st, "ratelimit_fixed_window", &["k"], &consume)),
      reply(&Outcome {
        allowed: true,
        remaining: 1,
        reset_ms: 750,
        retry_after_ms: 0
      })
    );
    assert_eq!(run(&mut st, &["TYPE", "k"]), Reply::Status("string".into()));
    assert_eq!(run(&mut st, &["GET", "k"]), Reply::Bulk(b"2".to_vec()));
    assert_eq!(run(&mut st, &["PEXPIRETIME", "k"]), Reply::Int(end as i64));
    // Later in the same window: counted on, denied, the window's end unchanged.
    clock.advance(500);
    assert_eq!(
      ok(eval(&mut st, "ratelimit_fixed_window", &["k"], &consume)),
      reply(&Outcome {
        allowed: false,
        remaining: 1,
        reset_ms: 250,
        retry_after_ms: 250
      })
    );
    assert_eq!(run(&mut st, &["GET", "k"]), Reply::Bulk(b"2".to_vec()));
    assert_eq!(run(&mut st, &["PEXPIRETIME", "k"]), Reply::Int(end as i64));
    // A count that is not an integer: a peek reads 0, a consume fails like INCRBY.
    run(&mut st, &["SET", "bad", "x"]);
    assert!(eval(
      &mut st,
      "ratelimit_fixed_window",
      &["bad"],
      &["3", "1000", "3", "1", "1"]
    )
    .is_ok());
    assert!(eval(&mut st, "ratelimit_fixed_window", &["bad"], &consume).is_err());
  }

  #[test]
  fn bad_arguments_are_redis_errors() {
    let (mut st, _) = store(None);
    for argv in [["0", "1000", "5", "1", "0"], ["3", "x", "5", "1", "0"]] {
      let err = eval(&mut st, "ratelimit_gcra", &["k"], &argv).map_err(|e| e.kind());
      assert_eq!(err, Err(crate::error::Kind::Redis));
    }
  }

  #[test]
  fn every_hash_state_round_trips_through_its_fields() {
    let states = [
      State::SlidingWindow(SlidingWindow {
        window_start_ms: 2_000,
        count: 1,
        previous: 3,
      }),
      State::TokenBucket(TokenBucket {
        tokens: 4_500,
        updated_ms: 3_000,
      }),
      State::Gcra(Gcra {
        tat_ms: 4_000,
        tat_frac: 2,
      }),
    ];
    let algorithms = [
      Algorithm::SlidingWindow,
      Algorithm::TokenBucket,
      Algorithm::Gcra,
    ];
    for (algorithm, state) in algorithms.into_iter().zip(states) {
      let stored: Vec<Option<u64>> = encode(&state).into_iter().map(Some).collect();
      assert_eq!(stored.len(), fields(algorithm).len());
      assert_eq!(decode(algorithm, &stored), Some(state));
    }
  }

  #[test]
  fn a_missing_anchor_is_no_state_and_other_fields_default_to_zero() {
    assert_eq!(
      decode(Algorithm::SlidingWindow, &[None, Some(2), Some(1)]),
      None
    );
    assert_eq!(decode(Algorithm::TokenBucket, &[Some(9), None]), None);
    assert_eq!(
      decode(Algorithm::Gcra, &[Some(5), None]),
      Some(State::Gcra(Gcra {
        tat_ms: 5,
        tat_frac: 0
      }))
    );
  }
}
