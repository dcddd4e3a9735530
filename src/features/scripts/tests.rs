//! The twin test: every script of the registry, run by `memory://` the ways
//! the JS layer runs it on Redis (EVALSHA by its SHA, EVAL of its source), does
//! what its Lua header promises. Each twin's finer contract is tested beside
//! it (`twins.rs`, `ratelimit/twin.rs`); the Jest conformance suite runs the
//! same calls against Redis and memory://.

use super::*;
use crate::args;
use crate::backend::memory::script::testing::{run_pipeline, store};
use crate::backend::memory::script::Store;
use crate::backend::Reply;
use crate::error::{Error, Kind, Result};
use crate::features::ratelimit::twin::reply;
use crate::features::ratelimit::{Params, ALGORITHMS};

/// EVALSHA of the library script `name`, as the JS layer sends it.
pub fn eval(st: &mut Store, name: &str, keys: &[&str], argv: &[&str]) -> Result<Reply> {
  let sha = sha(name).unwrap_or_default();
  run(
    st,
    args!["EVALSHA", sha, keys.len().to_string()],
    keys,
    argv,
  )
}

/// EVAL of the source of `name`, as the JS layer re-sends it after NOSCRIPT.
fn eval_source(st: &mut Store, name: &str, keys: &[&str], argv: &[&str]) -> Result<Reply> {
  let code = code(name).unwrap_or_default();
  run(st, args!["EVAL", code, keys.len().to_string()], keys, argv)
}

fn run(st: &mut Store, mut cmd: Vec<Vec<u8>>, keys: &[&str], argv: &[&str]) -> Result<Reply> {
  cmd.extend(keys.iter().chain(argv).map(|a| a.as_bytes().to_vec()));
  run_pipeline(st, &[cmd])
    .pop()
    .unwrap_or_else(|| Err(Error::invalid("no reply")))
}

/// One call per script on an empty store, KEYS and ARGV as its header lists
/// them, and the reply its Lua gives.
fn sample(name: &str, now: i64) -> Option<(Vec<&'static str>, Vec<&'static str>, Reply)> {
  let int = Reply::Int;
  let bulk = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
  Some(match name {
    "blacklist_revoke_all" => (vec!["u"], vec!["60000"], int(now)),
    "drafts_save" => (
      vec!["d"],
      vec!["step", "1", "60000", "t", ""],
      Reply::Array(vec![
        int(60),
        Reply::Array(
          ["step", "1", "_version", "1", "_updatedAt", "t"]
            .map(bulk)
            .to_vec(),
        ),
      ]),
    ),
    "queue_ack" => (vec!["p"], vec!["j1"], int(0)),
    "ratelimit_fixed_window_open" => (vec!["w"], vec!["1000"], int(-2)),
    // The others reply as their algorithm's pure function: limit 3 per second,
    // burst 3, a consume of cost 1.
    _ => {
      let algorithm = ALGORITHMS.into_iter().find(|a| a.script() == name)?;
      let params = Params::new(3, 1000, 3).ok()?;
      let now = u64::try_from(now).ok()?;
      let (_, outcome) = algorithm.run(None, now, &params, 1, false);
      (vec!["k"], vec!["3", "1000", "3", "1", "0"], reply(&outcome))
    }
  })
}

#[test]
fn every_script_runs_its_twin_by_sha_and_by_source() {
  for script in SCRIPTS {
    let name = script.name;
    for by_source in [false, true] {
      let (mut st, _) = store(None);
      let now = i64::try_from(st.now()).unwrap_or_default();
      let Some((keys, argv, want)) = sample(name, now) else {
        panic!("{name}: no sample call in the twin test");
      };
      let got = if by_source {
        eval_source(&mut st, name, &keys, &argv)
      } else {
        eval(&mut st, name, &keys, &argv)
      };
      assert_eq!(got, Ok(want), "{name} (by source: {by_source})");
    }
  }
}

#[test]
fn every_script_is_known_by_its_sha_in_any_case() {
  let (mut st, _) = store(None);
  for script in SCRIPTS {
    let sha = sha(script.name).unwrap_or_default();
    for sha in [sha.to_string(), sha.to_uppercase()] {
      let exists = run(&mut st, args!["SCRIPT", "EXISTS", sha], &[], &[]);
      assert_eq!(
        exists,
        Ok(Reply::Array(vec![Reply::Int(1)])),
        "{}",
        script.name
      );
    }
  }
}

#[test]
fn a_call_without_the_scripts_keys_is_its_own_redis_error() {
  let (mut st, _) = store(None);
  for script in SCRIPTS {
    let failed = eval(&mut st, script.name, &[], &[]);
    let (kind, message) = match failed {
      Err(e) => (e.kind(), e.message().to_string()),
      Ok(reply) => panic!("{}: {reply:?}", script.name),
    };
    assert_eq!(kind, Kind::Redis, "{}: {message}", script.name);
    assert!(message.contains(script.name), "{message}");
  }
}

#[test]
fn every_rate_limit_algorithm_names_a_registered_script() {
  for algorithm in ALGORITHMS {
    assert!(sha(algorithm.script()).is_some(), "{algorithm:?}");
  }
}
