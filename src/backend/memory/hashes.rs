//! Hash commands: HSET, HSETNX, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS,
//! HINCRBY.

use super::args::{arity, bulk_or_nil, err, int, integer, overflow, parse_i64};
use super::store::Store;
use super::value::{Members, Value};
use crate::backend::Reply;
use crate::error::Result;

/// `key field value [field value ...]`: the number of new fields.
pub fn hset(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, pairs @ ..] = args else {
    return Err(arity("hset"));
  };
  if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
    return Err(arity("hset"));
  }
  let added = st.modify(key, Some(Value::empty_hash), |v| {
    let hash = v.as_hash_mut()?;
    Ok(
      pairs
        .chunks_exact(2)
        .filter(|pair| match pair {
          [field, value] => hash.insert(field.clone(), value.clone()),
          _ => false,
        })
        .count(),
    )
  })?;
  Ok(int(added.unwrap_or(0)))
}

pub fn hsetnx(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, field, value] = args else {
    return Err(arity("hsetnx"));
  };
  let added = st.modify(key, Some(Value::empty_hash), |v| {
    let hash = v.as_hash_mut()?;
    Ok(!hash.contains(field) && hash.insert(field.clone(), value.clone()))
  })?;
  Ok(Reply::Int(i64::from(added.unwrap_or(false))))
}

pub fn hget(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, field] = args else {
    return Err(arity("hget"));
  };
  let value = read(st, key)?.and_then(|h| h.get(field).cloned());
  Ok(bulk_or_nil(value))
}

pub fn hmget(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, fields @ ..] = args else {
    return Err(arity("hmget"));
  };
  let hash = read(st, key)?;
  let values = fields
    .iter()
    .map(|f| bulk_or_nil(hash.and_then(|h| h.get(f).cloned())))
    .collect();
  Ok(Reply::Array(values))
}

/// Fields and values alternating, in insertion order.
pub fn hgetall(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("hgetall"));
  };
  let items = read(st, key)?
    .map(|h| {
      h.iter()
        .flat_map(|(f, v)| [Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
        .collect()
    })
    .unwrap_or_default();
  Ok(Reply::Array(items))
}

pub fn hdel(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, fields @ ..] = args else {
    return Err(arity("hdel"));
  };
  let removed = st.modify(key, None, |v| {
    let hash = v.as_hash_mut()?;
    Ok(fields.iter().filter(|f| hash.remove(f)).count())
  })?;
  Ok(int(removed.unwrap_or(0)))
}

pub fn hlen(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("hlen"));
  };
  Ok(int(read(st, key)?.map_or(0, Members::len)))
}

pub fn hexists(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, field] = args else {
    return Err(arity("hexists"));
  };
  let found = read(st, key)?.is_some_and(|h| h.contains(field));
  Ok(Reply::Int(i64::from(found)))
}

pub fn hincrby(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, field, by] = args else {
    return Err(arity("hincrby"));
  };
  let by = integer(by)?;
  let n = st.modify(key, Some(Value::empty_hash), |v| {
    let hash = v.as_hash_mut()?;
    let current = match hash.get(field) {
      Some(raw) => parse_i64(raw).ok_or_else(|| err("hash value is not an integer"))?,
      None => 0,
    };
    let next = current.checked_add(by).ok_or_else(overflow)?;
    hash.insert(field.clone(), next.to_string().into_bytes());
    Ok(next)
  })?;
  Ok(Reply::Int(n.unwrap_or(by)))
}

/// The hash at `key`, WRONGTYPE for another type; counts a hit or miss.
fn read<'a>(st: &'a mut Store, key: &[u8]) -> Result<Option<&'a Members<Vec<u8>>>> {
  st.read(key).map(Value::as_hash).transpose()
}
