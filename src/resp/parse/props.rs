//! Properties over arbitrary input: any bytes are parsed or refused, never a
//! panic; and however a stream of valid replies is split into reads, the
//! replies are those of the whole stream parsed at once.

use proptest::prelude::*;

use super::*;

/// Few cases: each one is cheap, and `cargo test` must stay fast.
fn config() -> ProptestConfig {
  ProptestConfig::with_cases(256)
}

/// Replies as a server sends them (a top-level error aside: `Err`).
fn reply() -> impl Strategy<Value = Reply> {
  let text = "[a-zA-Z0-9 :_-]{0,12}";
  let leaf = prop_oneof![
    Just(Reply::Nil),
    any::<i64>().prop_map(Reply::Int),
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Reply::Bulk),
    text.prop_map(Reply::Status),
    (-1e12f64..1e12).prop_map(Reply::Double),
    any::<bool>().prop_map(Reply::Bool),
    text.prop_map(|t| Reply::Error(format!("ERR {t}"))),
  ];
  leaf.prop_recursive(6, 64, 8, |inner| {
    proptest::collection::vec(inner, 0..8).prop_map(Reply::Array)
  })
}

/// `reply` on the wire, in a form chosen by `variant` where RESP has several.
fn encode(out: &mut Vec<u8>, reply: &Reply, variant: usize) {
  match reply {
    Reply::Nil => out.extend_from_slice([&b"$-1\r\n"[..], b"*-1\r\n", b"_\r\n"][variant % 3]),
    Reply::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
    Reply::Bulk(b) => {
      out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
      out.extend_from_slice(b);
      out.extend_from_slice(b"\r\n");
    }
    Reply::Status(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
    Reply::Double(d) => out.extend_from_slice(format!(",{d}\r\n").as_bytes()),
    Reply::Bool(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
    Reply::Error(e) => out.extend_from_slice(format!("-{e}\r\n").as_bytes()),
    Reply::Array(items) => {
      let tag = ['*', '~'][variant % 2];
      out.extend_from_slice(format!("{tag}{}\r\n", items.len()).as_bytes());
      for (i, item) in items.iter().enumerate() {
        encode(out, item, variant + i);
      }
    }
  }
}

/// Every reply of `reads`, fed one after the other to one inbox.
fn parse_reads<'a>(reads: impl Iterator<Item = &'a [u8]>) -> Result<Vec<Parsed>> {
  let mut inbox = Inbox::new(16);
  let mut out = Vec::new();
  for read in reads {
    inbox.for_read().extend_from_slice(read);
    while let Some(parsed) = inbox.next_reply()? {
      out.push(parsed);
    }
  }
  Ok(out)
}

/// `wire` cut at the given points (taken modulo its length).
fn split(wire: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
  let mut at: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
  at.sort_unstable();
  at.push(wire.len());
  let mut from = 0;
  at.into_iter()
    .map(|to| {
      let piece = wire[from..to].to_vec();
      from = to;
      piece
    })
    .collect()
}

proptest! {
  #![proptest_config(config())]

  #[test]
  fn any_bytes_are_parsed_or_refused(
    bytes in proptest::collection::vec(any::<u8>(), 0..512),
    cuts in proptest::collection::vec(any::<usize>(), 0..8),
  ) {
    let whole = parse_reads(std::iter::once(bytes.as_slice()));
    let pieces = split(&bytes, &cuts);
    let split_up = parse_reads(pieces.iter().map(Vec::as_slice));
    // Split or not, the same verdict: an error either way, or the same replies.
    prop_assert_eq!(whole.is_err(), split_up.is_err());
    if let (Ok(a), Ok(b)) = (whole, split_up) {
      prop_assert_eq!(a, b);
    }
  }

  #[test]
  fn resp_shaped_garbage_is_parsed_or_refused(
    parts in proptest::collection::vec(
      prop_oneof![
        Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"%".to_vec()), Just(b"\r\n".to_vec()),
        Just(b"-1".to_vec()), Just(b"9223372036854775807".to_vec()), Just(b"1".to_vec()),
        Just(b"+x".to_vec()), Just(b":".to_vec()), any::<u8>().prop_map(|b| vec![b]),
      ],
      0..64,
    ),
    cuts in proptest::collection::vec(any::<usize>(), 0..8),
  ) {
    let bytes = parts.concat();
    let pieces = split(&bytes, &cuts);
    let whole = parse_reads(std::iter::once(bytes.as_slice()));
    let split_up = parse_reads(pieces.iter().map(Vec::as_slice));
    prop_assert_eq!(whole.is_err(), split_up.is_err());
  }

  #[test]
  fn splitting_valid_replies_changes_nothing(
    replies in proptest::collection::vec(reply(), 1..6),
    variant in 0usize..6,
    cuts in proptest::collection::vec(any::<usize>(), 0..12),
  ) {
    let mut wire = Vec::new();
    for r in &replies {
      encode(&mut wire, r, variant);
    }
    let whole = parse_reads(std::iter::once(wire.as_slice()));
    let expected: Vec<Parsed> = replies
      .into_iter()
      .map(|r| match r {
        Reply::Error(text) => Err(Error::new(Kind::Redis, text)),
        r => Ok(r),
      })
      .collect();
    prop_assert_eq!(whole.as_ref(), Ok(&expected));
    let pieces = split(&wire, &cuts);
    prop_assert_eq!(parse_reads(pieces.iter().map(Vec::as_slice)), whole.clone());
    let bytes = wire.iter().map(std::slice::from_ref);
    prop_assert_eq!(parse_reads(bytes), whole);
  }
}
