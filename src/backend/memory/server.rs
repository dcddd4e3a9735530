//! Server commands: PING, ECHO, TIME, INFO, SCRIPT, and EVAL / EVALSHA of
//! the scripts the store was given, which run as native Rust twins of their
//! Lua (`script.rs`).

use super::args::{arity, err, integer, is, ok, reply_error};
use super::script::Twin;
use super::store::Store;
use crate::backend::Reply;
use crate::error::{Error, Result};

pub fn ping(_st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  match args {
    [] => Ok(Reply::Status("PONG".into())),
    [message] => Ok(Reply::Bulk(message.clone())),
    _ => Err(arity("ping")),
  }
}

pub fn echo(_st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  match args {
    [message] => Ok(Reply::Bulk(message.clone())),
    _ => Err(arity("echo")),
  }
}

/// `[seconds, microseconds]` of the backend's clock (millisecond precision).
pub fn time(st: &mut Store, _args: &[Vec<u8>]) -> Result<Reply> {
  let now = st.now();
  Ok(Reply::Array(vec![
    Reply::Bulk((now / 1_000).to_string().into_bytes()),
    Reply::Bulk(((now % 1_000) * 1_000).to_string().into_bytes()),
  ]))
}

/// The INFO fields `serverInfo()` and operators read, whatever the section asked.
pub fn info(st: &mut Store, _args: &[Vec<u8>]) -> Result<Reply> {
  st.sweep(usize::MAX);
  let stats = st.stats();
  let used = st.used_bytes();
  let (max, policy) = match st.max_bytes() {
    Some(max) => (max, "allkeys-lru"),
    None => (0, "noeviction"),
  };
  let mut text = format!(
    "# Server\r\nferrocache_backend:memory\r\n\r\n\
     # Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{policy}\r\n\r\n\
     # Stats\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\n\r\n\
     # Keyspace\r\n",
    human_bytes(used),
    human_bytes(max),
    stats.hits,
    stats.misses,
    stats.expired,
    stats.evicted,
  );
  // Redis lists only databases that hold keys.
  if st.len() > 0 {
    text.push_str(&format!(
      "db0:keys={},expires={},avg_ttl=0\r\n",
      st.len(),
      st.volatile()
    ));
  }
  Ok(Reply::Bulk(text.into_bytes()))
}

/// Redis' `bytesToHuman`: `512B`, `1.50K`, `2.00M`...
fn human_bytes(n: usize) -> String {
  const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
  if n < 1024 {
    return format!("{n}B");
  }
  let mut value = n as f64 / 1024.0;
  let mut unit = 0;
  while value >= 1024.0 && unit + 1 < UNITS.len() {
    value /= 1024.0;
    unit += 1;
  }
  format!("{value:.2}{}", UNITS[unit])
}

/// SCRIPT LOAD | EXISTS | FLUSH. Scripts are not stored: the ones the store
/// was given always exist (they are built in), any other cannot run here.
pub fn script(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  match args {
    [sub, code] if is(sub, "LOAD") => {
      let code = String::from_utf8_lossy(code);
      Ok(Reply::Bulk(
        redis::Script::new(&code).get_hash().as_bytes().to_vec(),
      ))
    }
    [sub, shas @ ..] if is(sub, "EXISTS") && !shas.is_empty() => Ok(Reply::Array(
      shas
        .iter()
        .map(|sha| Reply::Int(i64::from(known_sha(st, sha).is_some())))
        .collect(),
    )),
    [sub] | [sub, _] if is(sub, "FLUSH") => Ok(ok()),
    [sub, ..] => Err(Error::invalid(format!(
      "SCRIPT {} is not supported by memory://",
      String::from_utf8_lossy(sub).to_uppercase()
    ))),
    [] => Err(arity("script")),
  }
}

/// EVALSHA sha numkeys key... arg...
pub fn evalsha(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [sha, numkeys, rest @ ..] = args else {
    return Err(arity("evalsha"));
  };
  let twin = known_sha(st, sha)
    .ok_or_else(|| reply_error("NOSCRIPT No matching script. Please use EVAL."))?;
  let (keys, argv) = split_keys(numkeys, rest)?;
  twin(st, keys, argv)
}

/// EVAL code numkeys key... arg...: only the scripts the store was given.
pub fn eval(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [code, numkeys, rest @ ..] = args else {
    return Err(arity("eval"));
  };
  let twin = st.scripts().by_code(code).ok_or_else(|| {
    Error::invalid("EVAL of a script that is not one of ferrocache's is not supported by memory://")
  })?;
  let (keys, argv) = split_keys(numkeys, rest)?;
  twin(st, keys, argv)
}

fn known_sha(st: &Store, sha: &[u8]) -> Option<Twin> {
  st.scripts().by_sha(&sha.to_ascii_lowercase())
}

type Args<'a> = &'a [Vec<u8>];

fn split_keys<'a>(numkeys: &[u8], rest: Args<'a>) -> Result<(Args<'a>, Args<'a>)> {
  let n = integer(numkeys)?;
  if n < 0 {
    return Err(err("Number of keys can't be negative"));
  }
  let n = usize::try_from(n).unwrap_or(usize::MAX);
  if n > rest.len() {
    return Err(err("Number of keys can't be greater than number of args"));
  }
  Ok(rest.split_at(n))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn human_bytes_follows_redis() {
    assert_eq!(human_bytes(0), "0B");
    assert_eq!(human_bytes(1023), "1023B");
    assert_eq!(human_bytes(1536), "1.50K");
    assert_eq!(human_bytes(3 << 20), "3.00M");
  }

  #[test]
  fn numkeys_is_checked_like_redis() {
    let rest = [b"k".to_vec(), b"a".to_vec()];
    let split = split_keys(b"1", &rest).map(|(k, a)| (k.len(), a.len()));
    assert_eq!(split, Ok((1, 1)));
    assert!(split_keys(b"3", &rest).is_err());
    assert!(split_keys(b"-1", &rest).is_err());
    assert!(split_keys(b"x", &rest).is_err());
  }
}
