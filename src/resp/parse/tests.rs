//! The parser on well-formed replies, on hostile ones, and fed in pieces.

use super::*;

/// Appends `bytes` to a connection's inbox and takes every whole reply.
fn try_feed(inbox: &mut Inbox, bytes: &[u8]) -> Result<Vec<Parsed>> {
  inbox.for_read().extend_from_slice(bytes);
  let mut out = Vec::new();
  while let Some(parsed) = inbox.next_reply()? {
    out.push(parsed);
  }
  Ok(out)
}

/// `try_feed` of bytes that are no protocol violation.
fn feed(inbox: &mut Inbox, bytes: &[u8]) -> Vec<Parsed> {
  match try_feed(inbox, bytes) {
    Ok(replies) => replies,
    Err(err) => panic!("refused: {err}"),
  }
}

fn parse_all(wire: &[u8]) -> Vec<Parsed> {
  feed(&mut Inbox::new(64), wire)
}

fn bulk(s: &str) -> Reply {
  Reply::Bulk(s.as_bytes().to_vec())
}

/// `depth` arrays of one element each around `:1`.
fn nested(depth: usize) -> Vec<u8> {
  let mut wire = b"*1\r\n".repeat(depth);
  wire.extend_from_slice(b":1\r\n");
  wire
}

#[test]
fn parses_every_resp2_type() {
  let replies = parse_all(
    b"+OK\r\n:-7\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n*-1\r\n-ERR bad\r\n*0\r\n",
  );
  assert_eq!(replies.len(), 8);
  assert_eq!(replies[0], Ok(Reply::Status("OK".into())));
  assert_eq!(replies[1], Ok(Reply::Int(-7)));
  assert_eq!(replies[2], Ok(bulk("abc")));
  assert_eq!(replies[3], Ok(Reply::Nil));
  assert_eq!(replies[4], Ok(Reply::Array(vec![bulk("a"), Reply::Int(1)])));
  assert_eq!(replies[5], Ok(Reply::Nil));
  assert_eq!(
    replies[6].as_ref().err().map(|e| e.kind()),
    Some(Kind::Redis)
  );
  assert_eq!(replies[7], Ok(Reply::Array(Vec::new())));
}

#[test]
fn parses_the_resp3_types_it_knows() {
  let replies = parse_all(
    b",1.5\r\n#t\r\n#f\r\n_\r\n(12345678901234567890\r\n=7\r\ntxt:abc\r\n%1\r\n+k\r\n:2\r\n~1\r\n:3\r\n>1\r\n:4\r\n!3\r\nERR\r\n",
  );
  assert_eq!(
    replies,
    vec![
      Ok(Reply::Double(1.5)),
      Ok(Reply::Bool(true)),
      Ok(Reply::Bool(false)),
      Ok(Reply::Nil),
      Ok(bulk("12345678901234567890")),
      Ok(bulk("abc")),
      Ok(Reply::Array(vec![Reply::Status("k".into()), Reply::Int(2)])),
      Ok(Reply::Array(vec![Reply::Int(3)])),
      Ok(Reply::Array(vec![Reply::Int(4)])),
      Err(Error::new(Kind::Redis, "ERR")),
    ]
  );
}

#[test]
fn an_incomplete_reply_waits_for_more_bytes() {
  let full = b"*2\r\n$5\r\nhello\r\n$2\r\n\r\n\r\n";
  for cut in 0..full.len() {
    assert_eq!(
      parse_one(&full[..cut]).map(|r| r.is_none()),
      Ok(true),
      "cut at {cut}"
    );
  }
  let parsed = parse_one(full).ok().flatten();
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

/// Whether `wire` is refused as a protocol violation (the connection is
/// then dropped): ERR_UNAVAILABLE, never a panic, never a wait.
fn refused(wire: &[u8]) -> bool {
  matches!(try_feed(&mut Inbox::new(64), wire), Err(e) if e.kind() == Kind::Unavailable)
}

#[test]
fn nesting_is_bounded() {
  let deepest = parse_all(&nested(MAX_DEPTH));
  assert!(matches!(deepest.as_slice(), [Ok(Reply::Array(_))]));
  assert!(refused(&nested(MAX_DEPTH + 1)));
  // The issue's reply: a million levels, refused, not a stack overflow.
  assert!(refused(&b"*1\r\n".repeat(1_000_000)));
}

#[test]
fn absurd_or_negative_lengths_are_refused() {
  for wire in [
    &b"$9223372036854775807\r\n"[..],
    b"*9223372036854775807\r\n",
    b"%9223372036854775807\r\n",
    b"$9223372036854775808\r\n",
    b"*-9223372036854775808\r\n",
    b"$-5\r\n",
    b"*-2\r\n",
    b"$536870913\r\n",
    b"*4294967296\r\n",
    b":99999999999999999999\r\n",
    b"$\r\n",
    b"$1x\r\n",
  ] {
    assert!(refused(wire), "{:?}", String::from_utf8_lossy(wire));
  }
}

#[test]
fn the_largest_lengths_allowed_wait_for_their_bytes() {
  let mut inbox = Inbox::new(64);
  assert_eq!(feed(&mut inbox, b"$536870912\r\nabc"), Vec::new());
  let mut inbox = Inbox::new(64);
  assert_eq!(feed(&mut inbox, b"*4294967295\r\n:1\r\n"), Vec::new());
  // What was announced is not what gets reserved.
  assert!(inbox.parser.stack[0].items.capacity() <= PREALLOCATE_AT_MOST);
}

#[test]
fn garbage_is_refused_at_once() {
  // Unknown type bytes fail on their first byte, without a line end.
  for wire in [&b"?"[..], b"\x00", b"\r\n", b"GET", b"*1\r\n@x\r\n"] {
    assert!(refused(wire), "{wire:?}");
  }
  assert!(refused(b":notanumber\r\n"));
  assert!(refused(b",nope\r\n"));
  assert!(refused(b"$3\r\nabcd\r\n"));
  // A number line cannot go on forever waiting for its end.
  assert!(refused(&[b"*".as_slice(), &[b'1'; 40]].concat()));
}

#[test]
fn a_line_never_ended_is_bounded() {
  // A status line may be as long as a bulk string, no longer: the bound is
  // checked here on a small scale (512 MB would be a slow test).
  let mut parser = Parser::default();
  assert_eq!(parser.line_end(b"+abcdefgh", 8), Ok(None));
  assert!(parser.line_end(b"+abcdefghi", 8).is_err());
  assert_eq!(parser.line_end(b"+abcdefgh\r\n", 8), Ok(Some(9)));
}

#[test]
fn a_reply_fed_in_pieces_is_taken_in_as_it_comes() {
  // 100,000 elements in 64 KB reads: each read's whole elements leave the
  // buffer at once (nothing is parsed twice), and the result is the same.
  let mut wire = b"*100000\r\n".to_vec();
  for i in 0..100_000 {
    wire.extend_from_slice(format!("$6\r\n{i:06}\r\n").as_bytes());
  }
  let mut inbox = Inbox::new(64 * 1024);
  let mut replies = Vec::new();
  for chunk in wire.chunks(64 * 1024) {
    replies.extend(feed(&mut inbox, chunk));
    assert!(inbox.buffered() < 16, "{} bytes left", inbox.buffered());
  }
  let Some(Ok(Reply::Array(items))) = replies.pop() else {
    panic!("not one array");
  };
  assert_eq!(items.len(), 100_000);
  assert_eq!(items[99_999], bulk("099999"));
}

#[test]
fn a_long_line_is_not_searched_again() {
  let mut inbox = Inbox::new(64);
  assert_eq!(feed(&mut inbox, b"+abc\r"), Vec::new());
  assert_eq!(inbox.parser.scanned, 5);
  assert_eq!(
    feed(&mut inbox, b"\n"),
    vec![Ok(Reply::Status("abc".into()))]
  );
  assert_eq!(inbox.parser.scanned, 0);
}

#[test]
fn a_50_mb_reply_in_64_kb_reads_parses_and_the_inbox_shrinks_back() {
  let normal = 64 * 1024;
  let big = 50 << 20;
  let mut inbox = Inbox::new(normal);
  let mut wire = format!("*2\r\n${big}\r\n").into_bytes();
  wire.extend(std::iter::repeat_n(b'x', big));
  wire.extend_from_slice(b"\r\n:7\r\n+OK\r\n");
  let mut replies = Vec::new();
  for chunk in wire.chunks(normal) {
    replies.extend(feed(&mut inbox, chunk));
  }
  assert_eq!(replies.len(), 2);
  assert!(
    matches!(&replies[0], Ok(Reply::Array(items)) if items[0] == Reply::Bulk(vec![b'x'; big]))
  );
  assert!(
    inbox.capacity() <= 2 * normal,
    "capacity {}",
    inbox.capacity()
  );
  // And small replies keep flowing.
  assert_eq!(feed(&mut inbox, b":1\r\n"), vec![Ok(Reply::Int(1))]);
}
