//! List commands, blocking pops included. Here a blocking command answers at
//! once (nil when nothing is there, as inside MULTI on Redis); the backend's
//! `exec_blocking` repeats it until an element arrives or the wait ends.

use super::args::{arity, bulk_or_nil, err, int, integer, is, ok, syntax, timeout};
use super::store::Store;
use super::value::{End, Value};
use crate::backend::Reply;
use crate::error::Result;

pub fn lpush(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  push(st, args, End::Left, "lpush")
}

pub fn rpush(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  push(st, args, End::Right, "rpush")
}

fn push(st: &mut Store, args: &[Vec<u8>], end: End, name: &str) -> Result<Reply> {
  let [key, items @ ..] = args else {
    return Err(arity(name));
  };
  if items.is_empty() {
    return Err(arity(name));
  }
  let len = st.modify(key, Some(Value::empty_list), |v| {
    let list = v.as_list_mut()?;
    for item in items {
      list.push(end, item.clone());
    }
    Ok(list.len())
  })?;
  st.mark_pushed();
  Ok(int(len.unwrap_or(0)))
}

pub fn lpop(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  pop(st, args, End::Left, "lpop")
}

pub fn rpop(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  pop(st, args, End::Right, "rpop")
}

/// `key [count]`: one element (or nil), or with a count an array (nil when
/// the key is missing).
fn pop(st: &mut Store, args: &[Vec<u8>], end: End, name: &str) -> Result<Reply> {
  let (key, count) = match args {
    [key] => (key, None),
    [key, count] => {
      let n = integer(count)
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| err("value is out of range, must be positive"))?;
      (key, Some(usize::try_from(n).unwrap_or(usize::MAX)))
    }
    _ => return Err(arity(name)),
  };
  let popped = st.modify(key, None, |v| {
    let list = v.as_list_mut()?;
    let n = count.unwrap_or(1);
    Ok(
      std::iter::from_fn(|| list.pop(end))
        .take(n)
        .collect::<Vec<_>>(),
    )
  })?;
  Ok(match (popped, count) {
    (None, _) => Reply::Nil,
    (Some(items), None) => bulk_or_nil(items.into_iter().next()),
    (Some(items), Some(_)) => Reply::Array(items.into_iter().map(Reply::Bulk).collect()),
  })
}

pub fn llen(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key] = args else {
    return Err(arity("llen"));
  };
  let len = match st.read(key) {
    Some(v) => v.as_list()?.len(),
    None => 0,
  };
  Ok(int(len))
}

pub fn lrange(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, start, stop] = args else {
    return Err(arity("lrange"));
  };
  let (start, stop) = (integer(start)?, integer(stop)?);
  let items = match st.read(key) {
    Some(v) => {
      let list = v.as_list()?;
      match window(list.len(), start, stop) {
        Some((a, b)) => list.range(a, b).cloned().map(Reply::Bulk).collect(),
        None => Vec::new(),
      }
    }
    None => Vec::new(),
  };
  Ok(Reply::Array(items))
}

pub fn lindex(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, index] = args else {
    return Err(arity("lindex"));
  };
  let index = integer(index)?;
  let item = match st.read(key) {
    Some(v) => {
      let list = v.as_list()?;
      let len = i64::try_from(list.len()).unwrap_or(i64::MAX);
      let i = if index < 0 { len + index } else { index };
      usize::try_from(i).ok().and_then(|i| list.get(i)).cloned()
    }
    None => None,
  };
  Ok(bulk_or_nil(item))
}

/// `key count element`: count > 0 from the head, < 0 from the tail, 0 all.
pub fn lrem(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, count, item] = args else {
    return Err(arity("lrem"));
  };
  let count = integer(count)?;
  let from = if count < 0 { End::Right } else { End::Left };
  let limit = (count != 0).then(|| usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX));
  let removed = st.modify(key, None, |v| {
    Ok(v.as_list_mut()?.remove_equal(item, limit, from))
  })?;
  Ok(int(removed.unwrap_or(0)))
}

pub fn ltrim(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [key, start, stop] = args else {
    return Err(arity("ltrim"));
  };
  let (start, stop) = (integer(start)?, integer(stop)?);
  st.modify(key, None, |v| {
    let list = v.as_list_mut()?;
    list.retain_range(window(list.len(), start, stop));
    Ok(())
  })?;
  Ok(ok())
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [src, dst, from, to] = args else {
    return Err(arity("lmove"));
  };
  move_one(st, src, dst, end(from)?, end(to)?).map(bulk_or_nil)
}

pub fn rpoplpush(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [src, dst] = args else {
    return Err(arity("rpoplpush"));
  };
  move_one(st, src, dst, End::Right, End::Left).map(bulk_or_nil)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [src, dst, from, to, wait] = args else {
    return Err(arity("blmove"));
  };
  let (from, to) = (end(from)?, end(to)?);
  timeout(wait)?;
  move_one(st, src, dst, from, to).map(bulk_or_nil)
}

pub fn brpoplpush(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  let [src, dst, wait] = args else {
    return Err(arity("brpoplpush"));
  };
  timeout(wait)?;
  move_one(st, src, dst, End::Right, End::Left).map(bulk_or_nil)
}

pub fn blpop(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  pop_first(st, args, End::Left, "blpop")
}

pub fn brpop(st: &mut Store, args: &[Vec<u8>]) -> Result<Reply> {
  pop_first(st, args, End::Right, "brpop")
}

/// `key [key ...] timeout`: `[key, element]` from the first non-empty list.
fn pop_first(st: &mut Store, args: &[Vec<u8>], end: End, name: &str) -> Result<Reply> {
  let [keys @ .., wait] = args else {
    return Err(arity(name));
  };
  if keys.is_empty() {
    return Err(arity(name));
  }
  timeout(wait)?;
  for key in keys {
    let popped = st.modify(key, None, |v| Ok(v.as_list_mut()?.pop(end)))?;
    if let Some(Some(item)) = popped {
      return Ok(Reply::Array(vec![
        Reply::Bulk(key.clone()),
        Reply::Bulk(item),
      ]));
    }
  }
  Ok(Reply::Nil)
}

/// Pops from `src` and pushes to `dst`; both must be lists (or missing).
fn move_one(st: &mut Store, src: &[u8], dst: &[u8], from: End, to: End) -> Result<Option<Vec<u8>>> {
  match st.peek(src) {
    None => return Ok(None),
    Some(v) => v.as_list().map(|_| ())?,
  }
  if let Some(v) = st.peek(dst) {
    v.as_list()?;
  }
  let item = st.modify(src, None, |v| Ok(v.as_list_mut()?.pop(from)))?;
  let Some(Some(item)) = item else {
    return Ok(None);
  };
  st.modify(dst, Some(Value::empty_list), |v| {
    v.as_list_mut()?.push(to, item.clone());
    Ok(())
  })?;
  st.mark_pushed();
  Ok(Some(item))
}

fn end(arg: &[u8]) -> Result<End> {
  if is(arg, "LEFT") {
    Ok(End::Left)
  } else if is(arg, "RIGHT") {
    Ok(End::Right)
  } else {
    Err(syntax())
  }
}

/// Redis' index clamping for LRANGE and LTRIM: negative indexes count from
/// the tail; `None` when the window is empty.
fn window(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
  let len = i64::try_from(len).unwrap_or(i64::MAX);
  let start = if start < 0 { len + start } else { start }.max(0);
  let stop = if stop < 0 { len + stop } else { stop };
  if start > stop || start >= len {
    return None;
  }
  let stop = stop.min(len - 1);
  Some((usize::try_from(start).ok()?, usize::try_from(stop).ok()?))
}

#[cfg(test)]
mod tests {
  use super::window;

  #[test]
  fn windows_clamp_like_redis() {
    assert_eq!(window(5, 0, -1), Some((0, 4)));
    assert_eq!(window(5, -2, 100), Some((3, 4)));
    assert_eq!(window(5, -100, 1), Some((0, 1)));
    assert_eq!(window(5, 3, 2), None);
    assert_eq!(window(5, 5, 9), None);
    assert_eq!(window(0, 0, -1), None);
    assert_eq!(window(5, i64::MIN, i64::MAX), Some((0, 4)));
  }
}
