//! The interpreter: a table of commands with Redis' arities, and the
//! pipeline runner with MULTI / EXEC.
//!
//! Each command runs at its own clock reading; a transaction runs whole at
//! EXEC, at one reading, under the caller's lock, so it is atomic. MULTI
//! state lives for one pipeline: the library always sends MULTI ... EXEC in
//! one batch, and a transaction left open when the pipeline ends is dropped.

use super::args::{arity, err, is, ok, reply_error};
use super::store::Store;
use super::{hashes, keyspace, lists, server, sets, strings};
use crate::backend::{Args, Reply};
use crate::error::{Error, Result};

/// Expired keys reclaimed per command, at most (Redis samples 20 per loop).
const SWEEP_PER_COMMAND: usize = 20;

type Handler = fn(&mut Store, &[Vec<u8>]) -> Result<Reply>;

struct Command {
  name: &'static str,
  /// Redis' convention, name included: `n` exactly n arguments, `-n` at least n.
  arity: i32,
  run: Handler,
}

const fn cmd(name: &'static str, arity: i32, run: Handler) -> Command {
  Command { name, arity, run }
}

static COMMANDS: &[Command] = &[
  cmd("PING", -1, server::ping),
  cmd("ECHO", 2, server::echo),
  cmd("TIME", 1, server::time),
  cmd("INFO", -1, server::info),
  cmd("SCRIPT", -2, server::script),
  cmd("EVAL", -3, server::eval),
  cmd("EVALSHA", -3, server::evalsha),
  cmd("GET", 2, strings::get),
  cmd("SET", -3, strings::set),
  cmd("SETNX", 3, strings::setnx),
  cmd("SETEX", 4, strings::setex),
  cmd("PSETEX", 4, strings::psetex),
  cmd("GETDEL", 2, strings::getdel),
  cmd("MGET", -2, strings::mget),
  cmd("MSET", -3, strings::mset),
  cmd("STRLEN", 2, strings::strlen),
  cmd("INCR", 2, strings::incr),
  cmd("DECR", 2, strings::decr),
  cmd("INCRBY", 3, strings::incrby),
  cmd("DECRBY", 3, strings::decrby),
  cmd("DEL", -2, keyspace::del),
  cmd("UNLINK", -2, keyspace::del),
  cmd("EXISTS", -2, keyspace::exists),
  cmd("EXPIRE", -3, keyspace::expire),
  cmd("PEXPIRE", -3, keyspace::pexpire),
  cmd("EXPIREAT", -3, keyspace::expireat),
  cmd("PEXPIREAT", -3, keyspace::pexpireat),
  cmd("TTL", 2, keyspace::ttl),
  cmd("PTTL", 2, keyspace::pttl),
  cmd("EXPIRETIME", 2, keyspace::expiretime),
  cmd("PEXPIRETIME", 2, keyspace::pexpiretime),
  cmd("PERSIST", 2, keyspace::persist),
  cmd("TYPE", 2, keyspace::type_of),
  cmd("DBSIZE", 1, keyspace::dbsize),
  cmd("FLUSHDB", -1, keyspace::flush),
  cmd("FLUSHALL", -1, keyspace::flush),
  cmd("SCAN", -2, keyspace::scan),
  cmd("KEYS", 2, keyspace::keys),
  cmd("SADD", -3, sets::sadd),
  cmd("SREM", -3, sets::srem),
  cmd("SMEMBERS", 2, sets::smembers),
  cmd("SCARD", 2, sets::scard),
  cmd("SISMEMBER", 3, sets::sismember),
  cmd("HSET", -4, hashes::hset),
  cmd("HSETNX", 4, hashes::hsetnx),
  cmd("HGET", 3, hashes::hget),
  cmd("HMGET", -3, hashes::hmget),
  cmd("HGETALL", 2, hashes::hgetall),
  cmd("HDEL", -3, hashes::hdel),
  cmd("HLEN", 2, hashes::hlen),
  cmd("HEXISTS", 3, hashes::hexists),
  cmd("HINCRBY", 4, hashes::hincrby),
  cmd("LPUSH", -3, lists::lpush),
  cmd("RPUSH", -3, lists::rpush),
  cmd("LPOP", -2, lists::lpop),
  cmd("RPOP", -2, lists::rpop),
  cmd("LLEN", 2, lists::llen),
  cmd("LRANGE", 4, lists::lrange),
  cmd("LINDEX", 3, lists::lindex),
  cmd("LREM", 4, lists::lrem),
  cmd("LTRIM", 4, lists::ltrim),
  cmd("LMOVE", 5, lists::lmove),
  cmd("RPOPLPUSH", 3, lists::rpoplpush),
  cmd("BLMOVE", 6, lists::blmove),
  cmd("BRPOPLPUSH", 4, lists::brpoplpush),
  cmd("BLPOP", -3, lists::blpop),
  cmd("BRPOP", -3, lists::brpop),
];

/// The commands `exec_blocking` waits on: a nil reply means "nothing yet".
pub fn is_blocking(args: &Args) -> bool {
  args.first().is_some_and(|name| {
    ["BLMOVE", "BRPOPLPUSH", "BLPOP", "BRPOP"]
      .iter()
      .any(|b| is(name, b))
  })
}

/// The command `args` names, checked for its arity. A command this backend
/// lacks gets Redis' own "unknown command" error reply, so code that
/// handles it works on both backends.
fn find(args: &Args) -> Result<(&'static Command, &[Vec<u8>])> {
  let Some((name, rest)) = args.split_first() else {
    return Err(Error::invalid("empty command"));
  };
  let command = COMMANDS
    .iter()
    .find(|c| is(name, c.name))
    .ok_or_else(|| unknown(name, rest))?;
  let n = i64::try_from(args.len()).unwrap_or(i64::MAX);
  let want = i64::from(command.arity);
  if (want >= 0 && n != want) || n < want.abs() {
    return Err(arity(&command.name.to_ascii_lowercase()));
  }
  Ok((command, rest))
}

/// Redis' reply to a command it does not know, word for word (arguments
/// quoted while the list is under 128 characters, as Redis cuts it).
fn unknown(name: &[u8], rest: &[Vec<u8>]) -> Error {
  const SHOWN: usize = 128;
  let clip = |s: &[u8], n: usize| String::from_utf8_lossy(&s[..s.len().min(n)]).into_owned();
  let mut quoted = String::new();
  for arg in rest {
    if quoted.len() >= SHOWN {
      break;
    }
    quoted.push_str(&format!("'{}' ", clip(arg, SHOWN - quoted.len())));
  }
  err(&format!(
    "unknown command '{}', with args beginning with: {quoted}",
    clip(name, SHOWN)
  ))
}

/// Runs one command at the store's current time.
pub fn run_one(st: &mut Store, args: &Args) -> Result<Reply> {
  let (command, rest) = find(args)?;
  (command.run)(st, rest)
}

/// Runs `cmds` in order, each with its own result, as a Redis connection
/// would run one pipeline.
pub fn run_pipeline(st: &mut Store, cmds: &[Args]) -> Vec<Result<Reply>> {
  let mut tx: Option<Transaction> = None;
  cmds
    .iter()
    .map(|args| {
      st.tick();
      st.sweep(SWEEP_PER_COMMAND);
      let reply = step(st, &mut tx, args);
      st.enforce_bound();
      reply
    })
    .collect()
}

struct Transaction {
  queued: Vec<Args>,
  /// A command was refused while queuing: EXEC aborts.
  aborted: bool,
}

fn step(st: &mut Store, tx: &mut Option<Transaction>, args: &Args) -> Result<Reply> {
  let name = args.first().map_or(&[][..], Vec::as_slice);
  let control = ["MULTI", "EXEC", "DISCARD"].iter().find(|c| is(name, c));
  if let Some(control) = control {
    if args.len() != 1 {
      return Err(arity(&control.to_ascii_lowercase()));
    }
    return match (*control, tx.take()) {
      ("MULTI", Some(open)) => {
        *tx = Some(open);
        Err(err("MULTI calls can not be nested"))
      }
      ("MULTI", None) => {
        *tx = Some(Transaction {
          queued: Vec::new(),
          aborted: false,
        });
        Ok(ok())
      }
      ("EXEC", Some(t)) if t.aborted => Err(reply_error(
        "EXECABORT Transaction discarded because of previous errors.",
      )),
      ("EXEC", Some(t)) => Ok(Reply::Array(
        t.queued
          .iter()
          .map(|args| run_one(st, args).unwrap_or_else(|e| Reply::Error(e.message().to_string())))
          .collect(),
      )),
      ("DISCARD", Some(_)) => Ok(ok()),
      (control, _) => Err(err(&format!("{control} without MULTI"))),
    };
  }
  match tx {
    Some(t) => match find(args) {
      Ok(_) => {
        t.queued.push(args.clone());
        Ok(Reply::Status("QUEUED".into()))
      }
      Err(e) => {
        t.aborted = true;
        Err(e)
      }
    },
    None => run_one(st, args),
  }
}
