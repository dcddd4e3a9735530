//! Commands on keys of any type: DEL, UNLINK, EXISTS, the EXPIRE family,
//! TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, TYPE, DBSIZE, FLUSHDB, SCAN and KEYS.

use super::args::{arity, err, int, integer, is, syntax};
use super::store::Store;
use crate::backend::Reply;
use crate::error::Result;
use crate::glob;

/// DEL and UNLINK (freeing is immediate either way).
pub fn del(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  Ok(int(args.iter().filter(|key| st.delete(key)).count()))
}

/// A key named twice counts twice, as in Redis.
pub fn exists(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  Ok(int(
    args.iter().filter(|key| st.peek(key).is_some()).count(),
  ))
}

pub fn expire(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  expire_generic(st, args, 1_000, true, "expire")
}

pub fn pexpire(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  expire_generic(st, args, 1, true, "pexpire")
}

pub fn expireat(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  expire_generic(st, args, 1_000, false, "expireat")
}

pub fn pexpireat(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  expire_generic(st, args, 1, false, "pexpireat")
}

/// `key amount [NX | XX | GT | LT]`. A persistent key counts as an infinite
/// TTL for GT and LT; a deadline already passed deletes the key (reply 1).
fn expire_generic(
  st: &mut Store,
  args: &[Vec<u8>],
  unit: i64,
  relative: bool,
  name: &str,
) -> Result<Reply> {
  let [key, amount, opts @ ..] = args else {
    return Err(arity(name));
  };
  let cond = Condition::parse(opts)?;
  let invalid = || err(&format!("invalid expire time in '{name}' command"));
  let ms = integer(amount)?.checked_mul(unit).ok_or_else(invalid)?;
  let at = if relative {
    let now = i64::try_from(st.now()).unwrap_or(i64::MAX);
    ms.checked_add(now).ok_or_else(invalid)?
  } else {
    ms
  };
  let Some(current) = st.deadline(key) else {
    return Ok(Reply::Int(0));
  };
  let current = current.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
  let refused = (cond.nx && current.is_some())
    || (cond.xx && current.is_none())
    || (cond.gt && current.is_none_or(|c| at <= c))
    || (cond.lt && current.is_some_and(|c| at >= c));
  if refused {
    return Ok(Reply::Int(0));
  }
  st.set_deadline(key, Some(u64::try_from(at).unwrap_or(0)));
  Ok(Reply::Int(1))
}

#[derive(Default)]
struct Condition {
  nx: bool,
  xx: bool,
  gt: bool,
  lt: bool,
}

impl Condition {
  fn parse(opts: &[Vec<u8>]) -> Result<Condition> {
    let mut c = Condition::default();
    for opt in opts {
      let flag = match () {
        _ if is(opt, "NX") => &mut c.nx,
        _ if is(opt, "XX") => &mut c.xx,
        _ if is(opt, "GT") => &mut c.gt,
        _ if is(opt, "LT") => &mut c.lt,
        _ => {
          return Err(err(&format!(
            "Unsupported option {}",
            String::from_utf8_lossy(opt)
          )))
        }
      };
      *flag = true;
    }
    if c.nx && (c.xx || c.gt || c.lt) {
      return Err(err(
        "NX and XX, GT or LT options at the same time are not compatible",
      ));
    }
    if c.gt && c.lt {
      return Err(err("GT and LT options at the same time are not compatible"));
    }
    Ok(c)
  }
}

pub fn ttl(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("ttl"));
  };
  // Redis rounds to the nearest second.
  Ok(remaining(st, key, |ms| (ms + 500) / 1_000))
}

pub fn pttl(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("pttl"));
  };
  Ok(remaining(st, key, |ms| ms))
}

pub fn expiretime(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("expiretime"));
  };
  Ok(deadline(st, key, |at| (at + 500) / 1_000))
}

pub fn pexpiretime(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("pexpiretime"));
  };
  Ok(deadline(st, key, |at| at))
}

/// -2 missing, -1 persistent, else the time left in `scale`'s unit.
fn remaining(st: &mut Store, key: &[u8], scale: fn(u64) -> u64) -> Reply {
  let now = st.now();
  deadline(st, key, |at| scale(at.saturating_sub(now)))
}

/// -2 missing, -1 persistent, else `f` of the absolute deadline (Unix ms).
fn deadline(st: &mut Store, key: &[u8], f: impl FnOnce(u64) -> u64) -> Reply {
  Reply::Int(match st.deadline(key) {
    None => -2,
    Some(None) => -1,
    Some(Some(at)) => i64::try_from(f(at)).unwrap_or(i64::MAX),
  })
}

pub fn persist(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("persist"));
  };
  let volatile = matches!(st.deadline(key), Some(Some(_)));
  if volatile {
    st.set_deadline(key, None);
  }
  Ok(Reply::Int(i64::from(volatile)))
}

pub fn type_of(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("type"));
  };
  let name = st.peek(key).map_or("none", |v| v.type_name());
  Ok(Reply::Status(name.into()))
}

/// Counts live keys only: expired ones are reclaimed first.
pub fn dbsize(st: &mut Store, _args: &[Vec<u8>]) -> Result<Reply> {
  st.sweep(usize::MAX);
  Ok(int(st.len()))
}

/// FLUSHDB / FLUSHALL [ASYNC | SYNC]
pub fn flush(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  match args {
    [] => {}
    [mode] if is(mode, "ASYNC") || is(mode, "SYNC") => {}
    _ => return Err(syntax()),
  }
  st.flush();
  Ok(super::args::ok())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [cursor, opts @ ..] = args else {
    return Err(arity("scan"));
  };
  let cursor = std::str::from_utf8(cursor)
    .ok()
    .and_then(|c| c.parse::<u64>().ok())
    .ok_or_else(|| err("invalid cursor"))?;
  let (mut pattern, mut count, mut kind) = (None, 10usize, None);
  for pair in opts.chunks(2) {
    match pair {
      [opt, value] if is(opt, "MATCH") => pattern = Some(value.as_slice()),
      [opt, value] if is(opt, "COUNT") => {
        let n = integer(value)?;
        if n < 1 {
          return Err(syntax());
        }
        count = usize::try_from(n).unwrap_or(usize::MAX);
      }
      [opt, value] if is(opt, "TYPE") => kind = Some(value.as_slice()),
      _ => return Err(syntax()),
    }
  }
  let (next, keys) = st.scan(cursor, count, |key, value| {
    pattern.is_none_or(|p| glob::matches(p, key)) && kind.is_none_or(|t| is(t, value.type_name()))
  });
  Ok(Reply::Array(vec![
    Reply::Bulk(next.to_string().into_bytes()),
    Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
  ]))
}

/// For completeness with redis-cli habits; the library itself never sends KEYS.
pub fn keys(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [pattern] = args else {
    return Err(arity("keys"));
  };
  let (_, keys) = st.scan(0, usize::MAX, |key, _| glob::matches(pattern, key));
  Ok(Reply::Array(keys.into_iter().map(Reply::Bulk).collect()))
}
