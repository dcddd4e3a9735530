//! The values of the embedded store (strings, lists, hashes, sets) and the
//! byte counts the `maxBytes` bound is enforced on.
//!
//! Sizes are estimates kept up to date on every change, so a write costs
//! O(1) accounting however large the value: the payload bytes plus a fixed
//! overhead per element (what Redis spends on list nodes or dict entries).

use std::collections::{HashMap, VecDeque};

use super::args::wrongtype;
use crate::error::Result;

/// Bytes counted per list element, hash field or set member besides its payload.
pub const ELEMENT_OVERHEAD: usize = 16;

pub enum Value {
  Str(Vec<u8>),
  List(List),
  Hash(Members<Vec<u8>>),
  Set(Members<()>),
}

impl Value {
  /// The name TYPE answers.
  pub fn type_name(&self) -> &'static str {
    match self {
      Value::Str(_) => "string",
      Value::List(_) => "list",
      Value::Hash(_) => "hash",
      Value::Set(_) => "set",
    }
  }

  pub fn bytes(&self) -> usize {
    match self {
      Value::Str(s) => s.len(),
      Value::List(l) => l.bytes,
      Value::Hash(h) => h.bytes,
      Value::Set(s) => s.bytes,
    }
  }

  /// An empty collection: Redis deletes the key rather than keep it.
  pub fn is_empty(&self) -> bool {
    match self {
      Value::Str(_) => false,
      Value::List(l) => l.items.is_empty(),
      Value::Hash(h) => h.map.is_empty(),
      Value::Set(s) => s.map.is_empty(),
    }
  }

  pub fn empty_list() -> Value {
    Value::List(List::default())
  }

  pub fn empty_hash() -> Value {
    Value::Hash(Members::default())
  }

  pub fn empty_set() -> Value {
    Value::Set(Members::default())
  }

  pub fn as_str(&self) -> Result<&[u8]> {
    match self {
      Value::Str(s) => Ok(s),
      _ => Err(wrongtype()),
    }
  }

  pub fn as_list(&self) -> Result<&List> {
    match self {
      Value::List(l) => Ok(l),
      _ => Err(wrongtype()),
    }
  }

  pub fn as_list_mut(&mut self) -> Result<&mut List> {
    match self {
      Value::List(l) => Ok(l),
      _ => Err(wrongtype()),
    }
  }

  pub fn as_hash(&self) -> Result<&Members<Vec<u8>>> {
    match self {
      Value::Hash(h) => Ok(h),
      _ => Err(wrongtype()),
    }
  }

  pub fn as_hash_mut(&mut self) -> Result<&mut Members<Vec<u8>>> {
    match self {
      Value::Hash(h) => Ok(h),
      _ => Err(wrongtype()),
    }
  }

  pub fn as_set(&self) -> Result<&Members<()>> {
    match self {
      Value::Set(s) => Ok(s),
      _ => Err(wrongtype()),
    }
  }

  pub fn as_set_mut(&mut self) -> Result<&mut Members<()>> {
    match self {
      Value::Set(s) => Ok(s),
      _ => Err(wrongtype()),
    }
  }
}

/// A list, with its byte count.
#[derive(Default)]
pub struct List {
  items: VecDeque<Vec<u8>>,
  bytes: usize,
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
  Left,
  Right,
}

impl List {
  pub fn len(&self) -> usize {
    self.items.len()
  }

  pub fn push(&mut self, end: End, item: Vec<u8>) {
    self.bytes += item.len() + ELEMENT_OVERHEAD;
    match end {
      End::Left => self.items.push_front(item),
      End::Right => self.items.push_back(item),
    }
  }

  pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
    let item = match end {
      End::Left => self.items.pop_front(),
      End::Right => self.items.pop_back(),
    }?;
    self.bytes -= item.len() + ELEMENT_OVERHEAD;
    Some(item)
  }

  pub fn get(&self, index: usize) -> Option<&Vec<u8>> {
    self.items.get(index)
  }

  /// Items from the head (left) to the tail.
  pub fn iter(&self) -> impl Iterator<Item = &Vec<u8>> {
    self.items.iter()
  }

  /// Items `start..=stop`, both already clamped to the list.
  pub fn range(&self, start: usize, stop: usize) -> impl Iterator<Item = &Vec<u8>> {
    self
      .items
      .iter()
      .skip(start)
      .take(stop.saturating_sub(start) + 1)
  }

  /// Keeps only the items `start..=stop`; `None` empties the list.
  pub fn retain_range(&mut self, range: Option<(usize, usize)>) {
    let Some((start, stop)) = range else {
      self.items.clear();
      self.bytes = 0;
      return;
    };
    self.items.truncate(stop.saturating_add(1));
    self.items.drain(..start.min(self.items.len()));
    self.bytes = self.items.iter().map(|i| i.len() + ELEMENT_OVERHEAD).sum();
  }

  /// LREM: removes up to `limit` items equal to `item` (all when `None`),
  /// scanning from `from`. Returns how many were removed.
  pub fn remove_equal(&mut self, item: &[u8], limit: Option<usize>, from: End) -> usize {
    let limit = limit.unwrap_or(usize::MAX);
    let mut removed = 0;
    let n = self.items.len();
    let mut keep = vec![true; n];
    let order: Box<dyn Iterator<Item = usize>> = match from {
      End::Left => Box::new(0..n),
      End::Right => Box::new((0..n).rev()),
    };
    for i in order {
      if removed == limit {
        break;
      }
      if self.items.get(i).is_some_and(|x| x.as_slice() == item) {
        keep[i] = false;
        removed += 1;
      }
    }
    if removed > 0 {
      let mut flags = keep.into_iter();
      self.items.retain(|_| flags.next().unwrap_or(true));
      self.bytes -= removed * (item.len() + ELEMENT_OVERHEAD);
    }
    removed
  }
}

/// What a hash field or set member maps to, and how many bytes it counts.
pub trait Weigh {
  fn weight(&self) -> usize;
}

impl Weigh for Vec<u8> {
  fn weight(&self) -> usize {
    self.len()
  }
}

impl Weigh for () {
  fn weight(&self) -> usize {
    0
  }
}

/// A hash (`V` = its values) or a set (`V` = `()`). Iterates in insertion
/// order, as Redis does for the small hashes and sets applications keep, so
/// replies are deterministic.
pub struct Members<V> {
  map: HashMap<Vec<u8>, (u64, V)>,
  next: u64,
  bytes: usize,
}

impl<V> Default for Members<V> {
  fn default() -> Self {
    Members {
      map: HashMap::new(),
      next: 0,
      bytes: 0,
    }
  }
}

impl<V: Weigh> Members<V> {
  pub fn len(&self) -> usize {
    self.map.len()
  }

  pub fn get(&self, key: &[u8]) -> Option<&V> {
    self.map.get(key).map(|(_, v)| v)
  }

  pub fn contains(&self, key: &[u8]) -> bool {
    self.map.contains_key(key)
  }

  /// Inserts or replaces (keeping the original position); true when new.
  pub fn insert(&mut self, key: Vec<u8>, value: V) -> bool {
    self.bytes += value.weight();
    if let Some((_, old)) = self.map.get_mut(key.as_slice()) {
      self.bytes -= old.weight();
      *old = value;
      return false;
    }
    self.bytes += key.len() + ELEMENT_OVERHEAD;
    self.next += 1;
    self.map.insert(key, (self.next, value));
    true
  }

  pub fn remove(&mut self, key: &[u8]) -> bool {
    match self.map.remove(key) {
      Some((_, value)) => {
        self.bytes -= key.len() + ELEMENT_OVERHEAD + value.weight();
        true
      }
      None => false,
    }
  }

  /// Every entry, in insertion order.
  pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &V)> {
    let mut all: Vec<_> = self.map.iter().map(|(k, (n, v))| (*n, k, v)).collect();
    all.sort_unstable_by_key(|(n, _, _)| *n);
    all.into_iter().map(|(_, k, v)| (k, v))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn items(l: &List) -> Vec<&[u8]> {
    l.range(0, l.len().saturating_sub(1))
      .map(Vec::as_slice)
      .collect()
  }

  fn list_of(xs: &[&str]) -> List {
    let mut l = List::default();
    for x in xs {
      l.push(End::Right, x.as_bytes().to_vec());
    }
    l
  }

  #[test]
  fn list_bytes_follow_every_change() {
    let mut l = list_of(&["ab", "c"]);
    assert_eq!(l.bytes, 3 + 2 * ELEMENT_OVERHEAD);
    l.pop(End::Left);
    assert_eq!(l.bytes, 1 + ELEMENT_OVERHEAD);
    l.retain_range(None);
    assert_eq!((l.bytes, l.len()), (0, 0));
  }

  #[test]
  fn remove_equal_honours_direction_and_limit() {
    let mut l = list_of(&["a", "b", "a", "c", "a"]);
    assert_eq!(l.remove_equal(b"a", Some(2), End::Right), 2);
    assert_eq!(items(&l), [&b"a"[..], b"b", b"c"]);
    let mut l = list_of(&["a", "b", "a"]);
    assert_eq!(l.remove_equal(b"a", None, End::Left), 2);
    assert_eq!(items(&l), [&b"b"[..]]);
    assert_eq!(l.bytes, 1 + ELEMENT_OVERHEAD);
  }

  #[test]
  fn retain_range_keeps_the_inclusive_window() {
    let mut l = list_of(&["a", "b", "c", "d"]);
    l.retain_range(Some((1, 2)));
    assert_eq!(items(&l), [&b"b"[..], b"c"]);
    assert_eq!(l.bytes, 2 + 2 * ELEMENT_OVERHEAD);
  }

  #[test]
  fn members_keep_insertion_order_and_bytes() {
    let mut h: Members<Vec<u8>> = Members::default();
    assert!(h.insert(b"z".to_vec(), b"1".to_vec()));
    assert!(h.insert(b"a".to_vec(), b"22".to_vec()));
    assert!(!h.insert(b"z".to_vec(), b"333".to_vec()));
    let order: Vec<_> = h.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(order, [b"z".to_vec(), b"a".to_vec()]);
    assert_eq!(h.bytes, (1 + 3) + (1 + 2) + 2 * ELEMENT_OVERHEAD);
    assert!(h.remove(b"z"));
    assert!(!h.remove(b"z"));
    assert_eq!(h.bytes, 3 + ELEMENT_OVERHEAD);
  }
}
