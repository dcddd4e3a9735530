//! String commands: GET, SET and its options, GETDEL, MGET, MSET, SETNX,
//! SETEX, PSETEX, STRLEN and the INCR family.

use super::args::{
  arity, bulk_or_nil, err, integer, is, not_integer, ok, overflow, parse_i64, syntax,
};
use super::store::{Store, Ttl};
use super::value::Value;
use crate::backend::Reply;
use crate::error::Result;

pub fn get(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("get"));
  };
  read_str(st, key).map(bulk_or_nil)
}

pub fn getdel(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("getdel"));
  };
  let value = read_str(st, key)?;
  if value.is_some() {
    st.delete(key);
  }
  Ok(bulk_or_nil(value))
}

/// Keys that do not hold a string read as nil, without an error.
pub fn mget(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let values = args
    .iter()
    .map(|key| match st.read(key) {
      Some(Value::Str(s)) => Reply::Bulk(s.clone()),
      _ => Reply::Nil,
    })
    .collect();
  Ok(Reply::Array(values))
}

pub fn mset(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  if args.is_empty() || !args.len().is_multiple_of(2) {
    return Err(arity("mset"));
  }
  for pair in args.chunks_exact(2) {
    if let [key, value] = pair {
      st.set(key, Value::Str(value.clone()), Ttl::Clear);
    }
  }
  Ok(ok())
}

pub fn strlen(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("strlen"));
  };
  Ok(super::args::int(read_str(st, key)?.map_or(0, |v| v.len())))
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
pub fn set(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, value, opts @ ..] = args else {
    return Err(arity("set"));
  };
  let opts = SetOptions::parse(opts)?;
  let ttl = match opts.expire {
    None => Ttl::Clear,
    Some(Expire::Keep) => Ttl::Keep,
    Some(Expire::Amount {
      amount,
      unit,
      relative,
    }) => deadline(st, amount, unit, relative, "set")?,
  };
  let old = if opts.get {
    Some(read_str(st, key)?)
  } else {
    None
  };
  let found = st.peek(key).is_some();
  let blocked = (opts.nx && found) || (opts.xx && !found);
  if !blocked {
    st.set(key, Value::Str(value.clone()), ttl);
  }
  Ok(match old {
    Some(old) => bulk_or_nil(old),
    None if blocked => Reply::Nil,
    None => ok(),
  })
}

pub fn setnx(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, value] = args else {
    return Err(arity("setnx"));
  };
  if st.peek(key).is_some() {
    return Ok(Reply::Int(0));
  }
  st.set(key, Value::Str(value.clone()), Ttl::Clear);
  Ok(Reply::Int(1))
}

pub fn setex(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  set_with_ttl(st, args, 1_000, "setex")
}

pub fn psetex(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  set_with_ttl(st, args, 1, "psetex")
}

fn set_with_ttl(st: &mut Store, args: &[Vec<u8>], unit: i64, name: &str) -> Result<Reply> {
  let [key, amount, value] = args else {
    return Err(arity(name));
  };
  let ttl = deadline(st, amount, unit, true, name)?;
  st.set(key, Value::Str(value.clone()), ttl);
  Ok(ok())
}

pub fn incr(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("incr"));
  };
  incr_by(st, key, 1)
}

pub fn decr(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("decr"));
  };
  incr_by(st, key, -1)
}

pub fn incrby(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, by] = args else {
    return Err(arity("incrby"));
  };
  incr_by(st, key, integer(by)?)
}

pub fn decrby(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, by] = args else {
    return Err(arity("decrby"));
  };
  let by = integer(by)?
    .checked_neg()
    .ok_or_else(|| err("decrement would overflow"))?;
  incr_by(st, key, by)
}

/// Adds `by` to the integer at `key` (0 when missing), keeping its TTL.
fn incr_by(st: &mut Store, key: &[u8], by: i64) -> Result<Reply> {
  let create = || Value::Str(b"0".to_vec());
  let n = st.modify(key, Some(create), |value| {
    let current = parse_i64(value.as_str()?).ok_or_else(not_integer)?;
    let next = current.checked_add(by).ok_or_else(overflow)?;
    *value = Value::Str(next.to_string().into_bytes());
    Ok(next)
  })?;
  Ok(Reply::Int(n.unwrap_or(by)))
}

/// The string at `key`, WRONGTYPE for another type; counts a hit or miss.
fn read_str(st: &mut Store, key: &[u8]) -> Result<Option<Vec<u8>>> {
  Ok(match st.read(key) {
    Some(value) => Some(value.as_str()?.to_vec()),
    None => None,
  })
}

/// A SET-style expiry (`amount` in `unit` ms, from now when `relative`):
/// positive, and within range once in milliseconds since the epoch.
fn deadline(st: &Store, amount: &[u8], unit: i64, relative: bool, name: &str) -> Result<Ttl> {
  let invalid = || err(&format!("invalid expire time in '{name}' command"));
  let n = integer(amount)?;
  if n <= 0 {
    return Err(invalid());
  }
  let ms = n.checked_mul(unit).ok_or_else(invalid)?;
  let base = if relative {
    i64::try_from(st.now()).unwrap_or(i64::MAX)
  } else {
    0
  };
  let at = ms.checked_add(base).ok_or_else(invalid)?;
  Ok(Ttl::At(u64::try_from(at).unwrap_or(0)))
}

#[derive(Clone, Copy)]
enum Expire<'a> {
  /// KEEPTTL
  Keep,
  /// EX / PX (`relative`) or EXAT / PXAT: an amount and its unit in ms.
  Amount {
    amount: &'a [u8],
    unit: i64,
    relative: bool,
  },
}

impl<'a> Expire<'a> {
  /// The expiry option `opt`, taking its amount from `next`.
  fn parse(opt: &[u8], next: Option<&'a Vec<u8>>) -> Option<Self> {
    if is(opt, "KEEPTTL") {
      return Some(Expire::Keep);
    }
    let (unit, relative) = [
      ("EX", 1_000, true),
      ("PX", 1, true),
      ("EXAT", 1_000, false),
      ("PXAT", 1, false),
    ]
    .into_iter()
    .find(|(word, _, _)| is(opt, word))
    .map(|(_, unit, relative)| (unit, relative))?;
    Some(Expire::Amount {
      amount: next?,
      unit,
      relative,
    })
  }

  /// Redis accepts an option repeated, never two different expiries.
  fn same_option(&self, other: &Expire) -> bool {
    match (self, other) {
      (Expire::Keep, Expire::Keep) => true,
      (
        Expire::Amount { unit, relative, .. },
        Expire::Amount {
          unit: u,
          relative: r,
          ..
        },
      ) => unit == u && relative == r,
      _ => false,
    }
  }
}

#[derive(Default)]
struct SetOptions<'a> {
  nx: bool,
  xx: bool,
  get: bool,
  expire: Option<Expire<'a>>,
}

impl<'a> SetOptions<'a> {
  /// Options in any order and case; NX with XX, two different expiries or an
  /// expiry without its amount is a syntax error.
  fn parse(args: &'a [Vec<u8>]) -> Result<Self> {
    let mut o = SetOptions::default();
    let mut i = 0;
    while let Some(opt) = args.get(i) {
      i += 1;
      if is(opt, "NX") && !o.xx {
        o.nx = true;
      } else if is(opt, "XX") && !o.nx {
        o.xx = true;
      } else if is(opt, "GET") {
        o.get = true;
      } else if let Some(expire) = Expire::parse(opt, args.get(i)) {
        if o.expire.is_some_and(|e| !e.same_option(&expire)) {
          return Err(syntax());
        }
        if let Expire::Amount { .. } = expire {
          i += 1;
        }
        o.expire = Some(expire);
      } else {
        return Err(syntax());
      }
    }
    Ok(o)
  }
}
