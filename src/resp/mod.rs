//! The Redis protocol (RESP) on our side of the socket: encoding commands,
//! parsing replies as they stream in (`parse.rs`), and splitting the batches
//! JS encodes (`lib/resp.js`) back into argument vectors. `Reply` and `Args`
//! (the protocol's values) live here, below every backend, so the parser
//! depends on nothing above the leaves.

mod parse;

pub use parse::{Inbox, Parsed};

use crate::error::{Error, Result};

/// One command: its name then its arguments, as bytes.
pub type Args = Vec<Vec<u8>>;

/// A reply, independent of the driver that produced it.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
  Nil,
  Int(i64),
  Bulk(Vec<u8>),
  Status(String),
  Double(f64),
  Bool(bool),
  Array(Vec<Reply>),
  /// A server error nested in an array reply (a top-level one is an `Err`).
  Error(String),
}

impl Reply {
  pub fn as_int(&self) -> Option<i64> {
    match self {
      Reply::Int(n) => Some(*n),
      Reply::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
      _ => None,
    }
  }
}

/// Builds an argument vector from anything byte-like.
#[macro_export]
macro_rules! args {
  ($($a:expr),* $(,)?) => { vec![$(AsRef::<[u8]>::as_ref(&$a).to_vec()),*] };
}

/// Appends `args` as a RESP array of bulk strings.
pub fn encode_command(out: &mut Vec<u8>, args: &[Vec<u8>]) {
  out.push(b'*');
  out.extend_from_slice(args.len().to_string().as_bytes());
  out.extend_from_slice(b"\r\n");
  for arg in args {
    out.push(b'$');
    out.extend_from_slice(arg.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
  }
}

/// Splits a payload of RESP arrays of bulk strings into commands.
pub fn decode_requests(mut input: &[u8]) -> Result<Vec<Args>> {
  let mut cmds = Vec::new();
  while !input.is_empty() {
    let (n, rest) = header(input, b'*')?;
    input = rest;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
      let (len, rest) = header(input, b'$')?;
      let body = rest.get(..len).ok_or_else(malformed)?;
      if rest.get(len..len + 2) != Some(b"\r\n") {
        return Err(malformed());
      }
      args.push(body.to_vec());
      input = &rest[len + 2..];
    }
    cmds.push(args);
  }
  Ok(cmds)
}

/// Reads `<tag><decimal>\r\n`, returning the number and the rest.
fn header(input: &[u8], tag: u8) -> Result<(usize, &[u8])> {
  if input.first() != Some(&tag) {
    return Err(malformed());
  }
  let end = input
    .windows(2)
    .position(|w| w == b"\r\n")
    .ok_or_else(malformed)?;
  let digits = std::str::from_utf8(&input[1..end]).map_err(|_| malformed())?;
  let n = digits.parse::<usize>().map_err(|_| malformed())?;
  Ok((n, &input[end + 2..]))
}

fn malformed() -> Error {
  Error::invalid("malformed command batch")
}

#[cfg(test)]
pub use parse::parse_one;

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn encoded_commands_decode_back() {
    let mut out = Vec::new();
    encode_command(&mut out, &[b"SET".to_vec(), b"k".to_vec(), vec![0, 13, 10]]);
    assert_eq!(
      decode_requests(&out),
      Ok(vec![vec![b"SET".to_vec(), b"k".to_vec(), vec![0, 13, 10]]])
    );
  }

  #[test]
  fn splits_a_batch_into_commands() {
    let cmds = decode_requests(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(
      cmds,
      Ok(vec![
        vec![b"GET".to_vec(), b"k".to_vec()],
        vec![b"PING".to_vec()]
      ])
    );
  }

  #[test]
  fn binary_and_empty_arguments_survive() {
    let cmds = decode_requests(b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$2\r\n\xff\r\r\n");
    assert_eq!(
      cmds,
      Ok(vec![vec![b"SET".to_vec(), Vec::new(), vec![0xff, b'\r']]])
    );
  }

  #[test]
  fn truncated_or_garbled_input_is_refused() {
    for bad in [
      &b"*2\r\n$3\r\nGET\r\n"[..],
      b"$3\r\nGET\r\n",
      b"*1\r\n$9\r\nGET\r\n",
      b"*x\r\n",
    ] {
      assert!(decode_requests(bad).is_err(), "{bad:?}");
    }
  }
}
