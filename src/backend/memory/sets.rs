//! Set commands: SADD, SREM, SMEMBERS, SCARD, SISMEMBER.

use super::args::{arity, int};
use super::store::Store;
use super::value::{Members, Value};
use crate::backend::Reply;
use crate::error::Result;

/// `key member [member ...]`: the number of new members.
pub fn sadd(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, members @ ..] = args else {
    return Err(arity("sadd"));
  };
  if members.is_empty() {
    return Err(arity("sadd"));
  }
  let added = st.modify(key, Some(Value::empty_set), |v| {
    let set = v.as_set_mut()?;
    Ok(
      members
        .iter()
        .filter(|m| set.insert((*m).clone(), ()))
        .count(),
    )
  })?;
  Ok(int(added.unwrap_or(0)))
}

pub fn srem(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, members @ ..] = args else {
    return Err(arity("srem"));
  };
  let removed = st.modify(key, None, |v| {
    let set = v.as_set_mut()?;
    Ok(members.iter().filter(|m| set.remove(m)).count())
  })?;
  Ok(int(removed.unwrap_or(0)))
}

/// Members in insertion order.
pub fn smembers(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("smembers"));
  };
  let members = read(st, key)?
    .map(|s| s.iter().map(|(m, _)| Reply::Bulk(m.clone())).collect())
    .unwrap_or_default();
  Ok(Reply::Array(members))
}

pub fn scard(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("scard"));
  };
  Ok(int(read(st, key)?.map_or(0, Members::len)))
}

pub fn sismember(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, member] = args else {
    return Err(arity("sismember"));
  };
  let found = read(st, key)?.is_some_and(|s| s.contains(member));
  Ok(Reply::Int(i64::from(found)))
}

/// The set at `key`, WRONGTYPE for another type; counts a hit or miss.
fn read<'a>(st: &'a mut Store, key: &[u8]) -> Result<Option<&'a Members<()>>> {
  st.read(key).map(Value::as_set).transpose()
}
