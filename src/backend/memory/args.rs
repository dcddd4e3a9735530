//! Arguments in, replies out: parsing by Redis' own rules, and the error
//! replies Redis sends, word for word, so code that branches on a message
//! works on both backends.

use crate::backend::Reply;
use crate::error::{Error, Kind};

pub fn ok() -> Reply {
  Reply::Status("OK".into())
}

pub fn bulk_or_nil(value: Option<Vec<u8>>) -> Reply {
  value.map_or(Reply::Nil, Reply::Bulk)
}

pub fn int(n: usize) -> Reply {
  Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A server error reply: `ERR_REDIS`, like the Redis backend's.
pub fn reply_error(message: impl Into<String>) -> Error {
  Error::new(Kind::Redis, message)
}

/// `ERR <message>`.
pub fn err(message: &str) -> Error {
  reply_error(format!("ERR {message}"))
}

pub fn wrongtype() -> Error {
  reply_error("WRONGTYPE Operation against a key holding the wrong kind of value")
}

pub fn syntax() -> Error {
  err("syntax error")
}

pub fn not_integer() -> Error {
  err("value is not an integer or out of range")
}

pub fn overflow() -> Error {
  err("increment or decrement would overflow")
}

/// `name` is the command's canonical (lowercase) name.
pub fn arity(name: &str) -> Error {
  err(&format!("wrong number of arguments for '{name}' command"))
}

/// Whether the argument is `word`, ignoring ASCII case (Redis' `strcasecmp`).
pub fn is(arg: &[u8], word: &str) -> bool {
  arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Redis' `string2ll`: an optional `-`, digits, no leading zero, no sign
/// `+`, no spaces, within `i64`.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
  if bytes == b"0" {
    return Some(0);
  }
  let (negative, digits) = match bytes {
    [b'-', rest @ ..] => (true, rest),
    _ => (false, bytes),
  };
  if !matches!(digits.first(), Some(b'1'..=b'9')) || !digits.iter().all(u8::is_ascii_digit) {
    return None;
  }
  // Accumulate negatively so that i64::MIN parses too.
  digits.iter().try_fold(0i64, |acc, d| {
    let acc = acc.checked_mul(10)?;
    let d = i64::from(d - b'0');
    if negative {
      acc.checked_sub(d)
    } else {
      acc.checked_add(d)
    }
  })
}

/// An integer argument, or Redis' "not an integer" error.
pub fn integer(bytes: &[u8]) -> crate::error::Result<i64> {
  parse_i64(bytes).ok_or_else(not_integer)
}

/// A blocking command's timeout in seconds (a float, 0 = forever).
pub fn timeout(bytes: &[u8]) -> crate::error::Result<f64> {
  let value = std::str::from_utf8(bytes)
    .ok()
    .filter(|s| !s.starts_with(|c: char| c.is_ascii_whitespace()))
    .and_then(|s| s.parse::<f64>().ok())
    .filter(|v| v.is_finite())
    .ok_or_else(|| err("timeout is not a float or out of range"))?;
  if value < 0.0 {
    return Err(err("timeout is negative"));
  }
  Ok(value)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn integers_parse_like_string2ll() {
    for (text, want) in [
      ("0", Some(0)),
      ("42", Some(42)),
      ("-7", Some(-7)),
      ("9223372036854775807", Some(i64::MAX)),
      ("-9223372036854775808", Some(i64::MIN)),
      ("9223372036854775808", None),
      ("", None),
      ("-", None),
      ("-0", None),
      ("007", None),
      ("+1", None),
      (" 1", None),
      ("1 ", None),
      ("1.5", None),
      ("1e3", None),
    ] {
      assert_eq!(parse_i64(text.as_bytes()), want, "{text:?}");
    }
  }

  #[test]
  fn timeouts_are_non_negative_floats() {
    assert_eq!(timeout(b"0.5"), Ok(0.5));
    assert_eq!(timeout(b"2"), Ok(2.0));
    assert!(timeout(b"-1").is_err());
    assert!(timeout(b"soon").is_err());
    assert!(timeout(b"nan").is_err());
  }

  #[test]
  fn errors_carry_redis_text_as_redis_errors() {
    let e = arity("get");
    assert_eq!(e.kind(), Kind::Redis);
    assert_eq!(
      e.message(),
      "ERR wrong number of arguments for 'get' command"
    );
    assert!(wrongtype().message().starts_with("WRONGTYPE "));
  }
}
