//! Replies as they stream in from a server we do not have to trust: a
//! hostile or broken server (or anyone on a plain TCP path) must not be able
//! to crash the process, make it spin, or keep its memory.
//!
//! - Iterative: arrays being filled sit on an explicit stack, never on the
//!   call stack.
//! - Depth-bounded: an array nested deeper than `MAX_DEPTH` is a protocol
//!   error. `Reply` is a recursive type (dropping one, or converting it to
//!   JS, recurses once per level), so the bound is what keeps every later
//!   step off a stack overflow, not only the parse.
//! - Resumable: what a read completed (values, array headers) is taken out
//!   of the buffer and kept in the parser, so the next read goes on from
//!   there; a line still without its CRLF is not scanned again. A reply fed
//!   in pieces costs time linear in its size, whatever the pieces.
//! - Bounded: a bulk string or line longer than `MAX_BULK_LEN`, an array
//!   longer than `MAX_COUNT`, a negative length other than -1 (nil), a
//!   number that does not fit an `i64` or an unknown type byte is a protocol
//!   error; no buffer is sized from an untrusted count beyond
//!   `PREALLOCATE_AT_MOST` items. The `Inbox` shrinks back to its normal
//!   capacity once a large reply has left it.
//! - A protocol error is `ERR_UNAVAILABLE`: the connection cannot be trusted
//!   after it, so its owner drops it (the supervisor opens another).

use super::Reply;
use crate::error::{Error, Kind, Result};

/// The deepest nesting of arrays accepted. Redis' own replies nest a few
/// levels (an `EXEC` of `XREAD` is 6, `COMMAND DOCS` about 8); a Lua
/// script's nested tables or a module's reply could go deeper, but not
/// sensibly by hundreds. 512 levels keep the recursive walks of a `Reply`
/// (drop, conversion to JS) well within any thread's stack.
pub const MAX_DEPTH: usize = 512;

/// The longest bulk string (or line) accepted: Redis' own
/// `proto-max-bulk-len` default, which no value it stores can exceed.
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// The most elements an array may announce: a Redis collection holds at
/// most 2^32 - 1 (a map announces pairs: twice that many values).
const MAX_COUNT: u64 = u32::MAX as u64;

/// The longest line of a number: the type byte, a sign and 19 digits, with
/// room for a few leading zeros.
const LONGEST_NUMBER_LINE: usize = 32;

/// Capacity reserved up front for an array, whatever count it announces: a
/// longer one grows as its elements actually arrive.
const PREALLOCATE_AT_MOST: usize = 1024;

/// One top-level reply: a server error becomes an `ERR_REDIS` error.
pub type Parsed = Result<Reply>;

/// Bytes read from one connection and the parser that reads replies off
/// their front. One per connection: the parser keeps a partial reply.
pub struct Inbox {
  buf: Vec<u8>,
  /// Bytes at the front of `buf` the parser has taken in already.
  used: usize,
  parser: Parser,
  /// The capacity the buffer starts with and shrinks back to.
  normal: usize,
}

impl Inbox {
  pub fn new(normal: usize) -> Inbox {
    Inbox {
      buf: Vec::with_capacity(normal),
      used: 0,
      parser: Parser::default(),
      normal,
    }
  }

  /// The buffer to append a read to, with at least a quarter of the normal
  /// capacity free (grown amortized, so a large reply costs linear time).
  pub fn for_read(&mut self) -> &mut Vec<u8> {
    if self.buf.capacity() - self.buf.len() < self.normal / 4 {
      self.buf.reserve(self.normal);
    }
    &mut self.buf
  }

  /// The next whole reply, or `None` until more bytes arrive. An error is a
  /// protocol violation: the connection is to be dropped.
  pub fn next_reply(&mut self) -> Result<Option<Parsed>> {
    match self.parser.parse(&self.buf, &mut self.used)? {
      Some(parsed) => Ok(Some(parsed)),
      None => {
        self.compact();
        Ok(None)
      }
    }
  }

  /// Drops the bytes taken in; gives back the memory a large reply needed.
  fn compact(&mut self) {
    self.buf.drain(..self.used);
    self.used = 0;
    // Twice the normal capacity is what small replies straddling reads can
    // reach (`for_read`); past that, a large reply went through.
    if self.buf.capacity() > 2 * self.normal && self.buf.len() <= self.normal / 2 {
      self.buf.shrink_to(self.normal);
    }
  }

  #[cfg(test)]
  pub fn capacity(&self) -> usize {
    self.buf.capacity()
  }

  #[cfg(test)]
  pub fn buffered(&self) -> usize {
    self.buf.len() - self.used
  }
}

/// An array being filled.
struct Frame {
  items: Vec<Reply>,
  /// Elements still to come.
  left: u64,
}

/// What one element of the stream was.
enum Element {
  Value(Reply),
  /// An array header: its elements follow.
  Opened,
}

#[derive(Default)]
struct Parser {
  /// Arrays being filled, outermost first.
  stack: Vec<Frame>,
  /// How far from the current element's start its line end was searched.
  scanned: usize,
}

impl Parser {
  /// Takes in elements from `buf[*pos..]`, moving `pos` past each one, until
  /// a top-level reply is whole (returned) or the bytes run out (`None`).
  fn parse(&mut self, buf: &[u8], pos: &mut usize) -> Result<Option<Parsed>> {
    loop {
      let mut value = match self.element(buf, pos)? {
        None => return Ok(None),
        Some(Element::Opened) => continue,
        Some(Element::Value(value)) => value,
      };
      // Hand the value to its array, closing every array it completes.
      loop {
        let Some(frame) = self.stack.last_mut() else {
          return Ok(Some(match value {
            Reply::Error(text) => Err(Error::new(Kind::Redis, text)),
            reply => Ok(reply),
          }));
        };
        frame.items.push(value);
        frame.left -= 1;
        if frame.left > 0 {
          break;
        }
        let items = self.stack.pop().map(|f| f.items).unwrap_or_default();
        value = Reply::Array(items);
      }
    }
  }

  /// Reads one element at `buf[*pos..]`; `None` when it is not all there.
  fn element(&mut self, buf: &[u8], pos: &mut usize) -> Result<Option<Element>> {
    let start = *pos;
    let rest = buf.get(start..).unwrap_or_default();
    let Some(&tag) = rest.first() else {
      return Ok(None);
    };
    // Known at its first byte: garbage fails without waiting for a line end.
    let longest = longest_line(tag).ok_or_else(|| protocol("an unknown type byte"))?;
    let Some(end) = self.line_end(rest, longest)? else {
      return Ok(None);
    };
    let body = rest.get(1..end).unwrap_or_default();
    let mut next = start + end + 2;
    let text = || String::from_utf8_lossy(body).into_owned();
    let value = match tag {
      b'+' => Reply::Status(text()),
      b'-' => Reply::Error(text()),
      b':' => Reply::Int(number(body)?),
      b',' => Reply::Double(
        std::str::from_utf8(body)
          .ok()
          .and_then(|s| s.parse().ok())
          .ok_or_else(|| protocol("a double that is not a number"))?,
      ),
      b'#' => Reply::Bool(body == b"t"),
      b'_' => Reply::Nil,
      b'(' => Reply::Bulk(body.to_vec()),
      b'$' | b'=' | b'!' => match length(body, MAX_BULK_LEN as u64)? {
        None => Reply::Nil,
        Some(len) => {
          // `len` is at most MAX_BULK_LEN and `next` at most `buf.len()`.
          let len = len as usize;
          let Some(data) = buf.get(next..next.saturating_add(len + 2)) else {
            return Ok(None);
          };
          if &data[len..] != b"\r\n" {
            return Err(protocol("a bulk string longer than announced"));
          }
          next += len + 2;
          let data = &data[..len];
          match tag {
            b'!' => Reply::Error(String::from_utf8_lossy(data).into_owned()),
            // Verbatim strings start with a 3-letter format and a colon.
            b'=' => Reply::Bulk(data.get(4..).unwrap_or_default().to_vec()),
            _ => Reply::Bulk(data.to_vec()),
          }
        }
      },
      b'*' | b'~' | b'>' | b'%' => match length(body, MAX_COUNT)? {
        None => Reply::Nil,
        Some(0) => Reply::Array(Vec::new()),
        Some(n) => {
          if self.stack.len() >= MAX_DEPTH {
            return Err(protocol("arrays nested too deep"));
          }
          // A map of n pairs is 2n values, flattened as RESP2 sends it.
          let left = if tag == b'%' { 2 * n } else { n };
          let reserve =
            usize::try_from(left).map_or(PREALLOCATE_AT_MOST, |n| n.min(PREALLOCATE_AT_MOST));
          let items = Vec::with_capacity(reserve);
          self.stack.push(Frame { items, left });
          self.taken(pos, next);
          return Ok(Some(Element::Opened));
        }
      },
      _ => return Err(protocol("an unknown type byte")),
    };
    self.taken(pos, next);
    Ok(Some(Element::Value(value)))
  }

  /// The element ending before `next` was taken in.
  fn taken(&mut self, pos: &mut usize, next: usize) {
    *pos = next;
    self.scanned = 0;
  }

  /// Where the line at the front of `rest` ends (its CR), searching only
  /// what an earlier call has not searched yet; an error once the line is
  /// longer than `longest` bytes without an end.
  fn line_end(&mut self, rest: &[u8], longest: usize) -> Result<Option<usize>> {
    // A LF at index 0 has no CR before it: start at 1.
    let mut from = self.scanned.max(1);
    while let Some(found) = rest
      .get(from..)
      .and_then(|r| r.iter().position(|&b| b == b'\n'))
    {
      let lf = from + found;
      if rest[lf - 1] == b'\r' {
        self.scanned = lf;
        return Ok(Some(lf - 1));
      }
      from = lf + 1;
    }
    // + 1: the line's CR may be there already, its LF not yet.
    if rest.len() > longest + 1 {
      return Err(protocol("a line too long for its type"));
    }
    self.scanned = rest.len();
    Ok(None)
  }
}

/// How long the line of an element of type `tag` may be; `None` for a byte
/// that is none of the RESP2 types nor of the RESP3 ones we read.
fn longest_line(tag: u8) -> Option<usize> {
  match tag {
    // A length, a count or an integer.
    b':' | b'$' | b'=' | b'!' | b'*' | b'~' | b'>' | b'%' => Some(LONGEST_NUMBER_LINE),
    b'+' | b'-' | b',' | b'#' | b'_' | b'(' => Some(MAX_BULK_LEN),
    _ => None,
  }
}

/// A length or count: `None` for -1 (nil), else at most `max`.
fn length(digits: &[u8], max: u64) -> Result<Option<u64>> {
  match number(digits)? {
    -1 => Ok(None),
    n if n < 0 => Err(protocol("a negative length")),
    n if n as u64 > max => Err(protocol("a length beyond the protocol's bounds")),
    n => Ok(Some(n as u64)),
  }
}

fn number(digits: &[u8]) -> Result<i64> {
  std::str::from_utf8(digits)
    .ok()
    .and_then(|s| s.parse().ok())
    .ok_or_else(|| protocol("not a 64-bit integer"))
}

fn protocol(what: &str) -> Error {
  Error::unavailable(format!("protocol error in a Redis reply: {what}"))
}

/// The first reply of `wire` and the bytes it used, as a fresh connection
/// would parse it.
#[cfg(test)]
pub fn parse_one(wire: &[u8]) -> Result<Option<(Parsed, usize)>> {
  let mut parser = Parser::default();
  let mut used = 0;
  Ok(parser.parse(wire, &mut used)?.map(|parsed| (parsed, used)))
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
