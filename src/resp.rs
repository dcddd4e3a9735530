//! The Redis protocol (RESP) on our side of the socket: encoding commands,
//! parsing replies as they stream in, and splitting the batches JS encodes
//! (`lib/resp.js`) back into argument vectors.

use crate::backend::{Args, Reply};
use crate::error::{Error, Kind, Result};

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

/// One top-level reply: a server error becomes an `ERR_REDIS` error.
pub type Parsed = Result<Reply>;

/// Parses one reply from the front of `buf`: `Ok(None)` when it is not
/// complete yet, else the reply and the number of bytes it used. A protocol
/// violation is an error: the connection cannot be trusted after it.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Parsed, usize)>> {
  let mut pos = 0;
  match value(buf, &mut pos)? {
    None => Ok(None),
    Some(Reply::Error(text)) => Ok(Some((Err(Error::new(Kind::Redis, text)), pos))),
    Some(reply) => Ok(Some((Ok(reply), pos))),
  }
}

fn value(buf: &[u8], pos: &mut usize) -> Result<Option<Reply>> {
  let Some(line) = line(buf, pos)? else {
    return Ok(None);
  };
  let (tag, body) = match line.split_first() {
    Some((tag, body)) => (*tag, body),
    None => return Err(protocol()),
  };
  let text = || String::from_utf8_lossy(body).into_owned();
  Ok(Some(match tag {
    b'+' => Reply::Status(text()),
    b'-' => Reply::Error(text()),
    b':' => Reply::Int(number(body)?),
    b',' => Reply::Double(text().parse().map_err(|_| protocol())?),
    b'#' => Reply::Bool(body == b"t"),
    b'_' => Reply::Nil,
    b'(' => Reply::Bulk(body.to_vec()),
    b'$' | b'=' | b'!' => {
      let len = number(body)?;
      if len < 0 {
        return Ok(Some(Reply::Nil));
      }
      let len = len as usize;
      let Some(data) = buf.get(*pos..*pos + len + 2) else {
        return Ok(None);
      };
      if &data[len..] != b"\r\n" {
        return Err(protocol());
      }
      *pos += len + 2;
      let data = &data[..len];
      match tag {
        b'!' => Reply::Error(String::from_utf8_lossy(data).into_owned()),
        // Verbatim strings start with a 3-letter format and a colon.
        b'=' => Reply::Bulk(data.get(4..).unwrap_or_default().to_vec()),
        _ => Reply::Bulk(data.to_vec()),
      }
    }
    b'*' | b'~' | b'>' | b'%' => {
      let n = number(body)?;
      if n < 0 {
        return Ok(Some(Reply::Nil));
      }
      // A map of n pairs is 2n values, flattened as RESP2 sends it.
      let n = if tag == b'%' {
        n as usize * 2
      } else {
        n as usize
      };
      let mut items = Vec::with_capacity(n.min(4096));
      for _ in 0..n {
        match value(buf, pos)? {
          Some(item) => items.push(item),
          None => return Ok(None),
        }
      }
      Reply::Array(items)
    }
    _ => return Err(protocol()),
  }))
}

/// The next CRLF-terminated line, without its CRLF.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Option<&'a [u8]>> {
  let rest = buf.get(*pos..).unwrap_or_default();
  match memchr_crlf(rest) {
    Some(end) => {
      *pos += end + 2;
      Ok(Some(&rest[..end]))
    }
    None => Ok(None),
  }
}

fn memchr_crlf(buf: &[u8]) -> Option<usize> {
  let mut from = 0;
  while let Some(i) = buf.get(from..)?.iter().position(|&b| b == b'\r') {
    let at = from + i;
    if buf.get(at + 1) == Some(&b'\n') {
      return Some(at);
    }
    if at + 1 >= buf.len() {
      return None;
    }
    from = at + 1;
  }
  None
}

fn number(digits: &[u8]) -> Result<i64> {
  std::str::from_utf8(digits)
    .ok()
    .and_then(|s| s.parse().ok())
    .ok_or_else(protocol)
}

fn protocol() -> Error {
  Error::unavailable("protocol error in a Redis reply")
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
mod tests {
  use super::*;

  fn parse_all(mut buf: &[u8]) -> Vec<Parsed> {
    let mut out = Vec::new();
    while let Ok(Some((reply, used))) = parse_reply(buf) {
      out.push(reply);
      buf = &buf[used..];
    }
    out
  }

  #[test]
  fn parses_every_resp2_type() {
    let replies =
      parse_all(b"+OK\r\n:-7\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n*-1\r\n-ERR bad\r\n");
    assert_eq!(replies.len(), 7);
    assert_eq!(replies[0], Ok(Reply::Status("OK".into())));
    assert_eq!(replies[1], Ok(Reply::Int(-7)));
    assert_eq!(replies[2], Ok(Reply::Bulk(b"abc".to_vec())));
    assert_eq!(replies[3], Ok(Reply::Nil));
    assert_eq!(
      replies[4],
      Ok(Reply::Array(vec![
        Reply::Bulk(b"a".to_vec()),
        Reply::Int(1)
      ]))
    );
    assert_eq!(replies[5], Ok(Reply::Nil));
    assert_eq!(
      replies[6].as_ref().err().map(|e| e.kind()),
      Some(Kind::Redis)
    );
  }

  #[test]
  fn an_incomplete_reply_waits_for_more_bytes() {
    let full = b"*2\r\n$5\r\nhello\r\n$2\r\n\r\n\r\n";
    for cut in 0..full.len() {
      assert_eq!(
        parse_reply(&full[..cut]).map(|r| r.is_none()),
        Ok(true),
        "cut at {cut}"
      );
    }
    let parsed = parse_reply(full).ok().flatten();
    assert_eq!(parsed.map(|(_, used)| used), Some(full.len()));
  }

  #[test]
  fn bulk_strings_may_hold_crlf() {
    assert_eq!(
      parse_all(b"$4\r\na\r\nb\r\n"),
      vec![Ok(Reply::Bulk(b"a\r\nb".to_vec()))]
    );
  }

  #[test]
  fn nested_errors_stay_in_their_array() {
    assert_eq!(
      parse_all(b"*1\r\n-ERR inner\r\n"),
      vec![Ok(Reply::Array(vec![Reply::Error("ERR inner".into())]))]
    );
  }

  #[test]
  fn garbage_is_a_protocol_error() {
    assert!(parse_reply(b"?x\r\n").is_err());
    assert!(parse_reply(b":notanumber\r\n").is_err());
  }

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
