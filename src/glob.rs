//! Redis-compatible glob matching, so that invalidating L1 by pattern drops
//! exactly the keys `SCAN MATCH` / `KEYS` select on the server.
//!
//! The semantics are those of Redis' `stringmatchlen` (util.c), quirks
//! included. Redis recurses at every `*`; here only the last `*` is kept as a
//! restart point. That gives the same answers, because every other token
//! matches exactly one byte, in O(pattern × subject) time instead of
//! exponential.

/// Redis' recursion guard: `stringmatchlen` reports no match once it gets
/// past its 1001st `*` with more pattern after it. Copied here so that we
/// give the same answers as Redis.
const MAX_STARS: usize = 1000;

/// Whether `subject` matches the Redis glob `pattern`, byte by byte and
/// case-sensitively.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
  if subject.is_empty() {
    // stringmatchlen's loop needs a non-empty subject, so the empty key only
    // matches the empty pattern. The exception is `*` alone, which SCAN and
    // KEYS treat as "every key" without calling the matcher.
    return matches!(pattern, b"" | b"*");
  }
  let (mut pat, mut subj) = (pattern, subject);
  // Where to resume after a mismatch: the pattern after the last `*`, and the
  // subject position it resumes at. Each retry lets that `*` take one more byte.
  let mut restart: Option<(&[u8], &[u8])> = None;
  let mut stars = 0;
  while let [byte, subj_rest @ ..] = subj {
    if let [b'*', ..] = pat {
      pat = skip_stars(pat);
      if pat.is_empty() {
        return true;
      }
      stars += 1;
      if stars > MAX_STARS {
        return false;
      }
      restart = Some((pat, subj));
      continue;
    }
    match token(pat, *byte) {
      Some(pat_rest) => {
        pat = pat_rest;
        subj = subj_rest;
      }
      None => match restart {
        Some((after_star, [_, later @ ..])) => {
          restart = Some((after_star, later));
          pat = after_star;
          subj = later;
        }
        _ => return false,
      },
    }
  }
  skip_stars(pat).is_empty()
}

/// Whether `pattern` holds an unescaped `*`, `?` or `[`. When it holds none,
/// it matches exactly one key: itself, with its `\` escapes removed.
pub fn has_glob_chars(pattern: &[u8]) -> bool {
  let mut rest = pattern;
  loop {
    rest = match rest {
      [] => return false,
      [b'*' | b'?' | b'[', ..] => return true,
      [b'\\', _, tail @ ..] | [_, tail @ ..] => tail,
    };
  }
}

fn skip_stars(mut pat: &[u8]) -> &[u8] {
  while let [b'*', rest @ ..] = pat {
    pat = rest;
  }
  pat
}

/// Matches the one-byte token at the head of `pat` against `byte`, and returns
/// the rest of the pattern if it matches.
fn token(pat: &[u8], byte: u8) -> Option<&[u8]> {
  match pat {
    [] => None,
    [b'?', rest @ ..] => Some(rest),
    [b'[', body @ ..] => class(body, byte),
    // `\x` is a literal x. A trailing lone `\` is a literal backslash.
    [b'\\', lit, rest @ ..] | [lit, rest @ ..] => (*lit == byte).then_some(rest),
  }
}

/// A `[...]` class; `body` is the pattern after the `[`. As in Redis, `\`
/// escapes inside the class, and a class with no closing `]` runs to the end
/// of the pattern. The match arms are in Redis' order.
fn class(body: &[u8], byte: u8) -> Option<&[u8]> {
  let (negated, mut rest) = match body {
    [b'^', rest @ ..] => (true, rest),
    _ => (false, body),
  };
  let mut hit = false;
  let after = loop {
    rest = match rest {
      [b'\\', lit, tail @ ..] => {
        hit |= *lit == byte;
        tail
      }
      [b']', tail @ ..] => break tail,
      [] => break rest,
      [lo, b'-', hi, tail @ ..] => {
        hit |= in_range(*lo, *hi, byte);
        tail
      }
      [lit, tail @ ..] => {
        hit |= *lit == byte;
        tail
      }
    };
  };
  (hit != negated).then_some(after)
}

/// Redis swaps reversed ends and compares C `char`s. Those are signed on the
/// x86-64 builds it mostly runs on, so we compare signed bytes too. This only
/// matters for a range with one end below 0x80 and the other at or above it.
fn in_range(a: u8, b: u8, byte: u8) -> bool {
  let [a, b, byte] = [a, b, byte].map(|x| i8::from_ne_bytes([x]));
  (a.min(b)..=a.max(b)).contains(&byte)
}

#[cfg(test)]
mod tests {
  use super::*;

  /// A line-by-line port of Redis' recursive `stringmatchlen_impl` (nocase = 0),
  /// called the way SCAN and KEYS call it: `*` alone skips the matcher.
  /// It is the oracle that `matches` is checked against. Reads past the end
  /// return 0, as Redis reads the NUL after its sds pattern.
  fn redis(pattern: &[u8], subject: &[u8]) -> bool {
    pattern == b"*" || redis_impl(pattern, subject, &mut false, 0)
  }

  fn redis_impl(pat: &[u8], st: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
      return false;
    }
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let left = |p: usize| pat.len() - p;
    let (mut p, mut s) = (0, 0);
    while left(p) > 0 && s < st.len() {
      match at(p) {
        b'*' => {
          while left(p) > 0 && at(p + 1) == b'*' {
            p += 1;
          }
          if left(p) == 1 {
            return true;
          }
          while s < st.len() {
            if redis_impl(&pat[p + 1..], &st[s..], skip_longer, nesting + 1) {
              return true;
            }
            if *skip_longer {
              return false;
            }
            s += 1;
          }
          *skip_longer = true;
          return false;
        }
        b'?' => s += 1,
        b'[' => {
          p += 1;
          let not = at(p) == b'^';
          if not {
            p += 1;
          }
          let mut hit = false;
          loop {
            if at(p) == b'\\' && left(p) >= 2 {
              p += 1;
              hit |= at(p) == st[s];
            } else if at(p) == b']' {
              break;
            } else if left(p) == 0 {
              p -= 1;
              break;
            } else if left(p) >= 3 && at(p + 1) == b'-' {
              let signed = |b: u8| b as i8;
              let (mut lo, mut hi, c) = (signed(at(p)), signed(at(p + 2)), signed(st[s]));
              if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
              }
              p += 2;
              hit |= c >= lo && c <= hi;
            } else {
              hit |= at(p) == st[s];
            }
            p += 1;
          }
          if not {
            hit = !hit;
          }
          if !hit {
            return false;
          }
          s += 1;
        }
        first => {
          if first == b'\\' && left(p) >= 2 {
            p += 1;
          }
          if at(p) != st[s] {
            return false;
          }
          s += 1;
        }
      }
      p += 1;
      if s == st.len() {
        while at(p) == b'*' {
          p += 1;
        }
        break;
      }
    }
    left(p) == 0 && s == st.len()
  }

  /// (pattern, subject, Redis' answer)
  const CASES: &[(&[u8], &[u8], bool)] = &[
    // Empty pattern / subject, `*` alone.
    (b"", b"", true),
    (b"", b"a", false),
    (b"a", b"", false),
    (b"*", b"", true),
    (b"*", b"anything", true),
    (b"**", b"", false),
    (b"**", b"a", true),
    (b"?", b"", false),
    (b"*?", b"", false),
    (b"*?", b"a", true),
    // Literals, `?`, `*` and backtracking.
    (b"hello", b"hello", true),
    (b"hello", b"Hello", false),
    (b"h?llo", b"hello", true),
    (b"h?llo", b"hllo", false),
    (b"h*llo", b"hllo", true),
    (b"h*llo", b"heeeello", true),
    (b"a*b", b"acbd", false),
    (b"a*b*c", b"abbbc", true),
    (b"*ab", b"aab", true),
    (b"*aab", b"aaab", true),
    (b"*a*b*", b"xaxbx", true),
    (b"user:*:name", b"user:42:name", true),
    (b"user:*:name", b"user:42:names", false),
    // Classes, negation, ranges.
    (b"h[ae]llo", b"hello", true),
    (b"h[ae]llo", b"hillo", false),
    (b"h[^e]llo", b"hallo", true),
    (b"h[^e]llo", b"hello", false),
    (b"h[a-b]llo", b"hbllo", true),
    (b"h[a-b]llo", b"hcllo", false),
    (b"[z-a]", b"m", true),
    (b"[0-9a-f]", b"c", true),
    (b"[0-9a-f]", b"g", false),
    (b"[-a]", b"-", true),
    (b"[a-]", b"-", false),
    (b"[a-]", b"_", true),
    (b"[]", b"]", false),
    (b"[]]", b"]", false),
    (b"[^]", b"x", true),
    (b"[^]]", b"x]", true),
    // Escapes, outside and inside classes.
    (b"h\\*llo", b"h*llo", true),
    (b"h\\*llo", b"hello", false),
    (b"\\?", b"?", true),
    (b"\\?", b"a", false),
    (b"\\[a]", b"[a]", true),
    (b"[\\]]", b"]", true),
    (b"[\\^a]", b"^", true),
    (b"[\\-]", b"-", true),
    (b"[\\a-z]", b"-", true),
    (b"[\\a-z]", b"m", false),
    // Unterminated class: it runs to the end of the pattern.
    (b"[abc", b"b", true),
    (b"[abc", b"d", false),
    (b"a[", b"a", false),
    (b"a[", b"a[", false),
    (b"[^", b"x", true),
    (b"[^", b"", false),
    (b"a[^", b"ab", true),
    (b"[\\]", b"]", true),
    (b"[\\", b"\\", true),
    // Trailing lone backslash.
    (b"a\\", b"a\\", true),
    (b"a\\", b"a", false),
    (b"\\", b"\\", true),
    // Multi-byte UTF-8 is matched byte by byte.
    ("caf?".as_bytes(), "café".as_bytes(), false),
    ("caf??".as_bytes(), "café".as_bytes(), true),
    ("é*".as_bytes(), "été".as_bytes(), true),
    ("[é]".as_bytes(), b"\xc3", true),
    // A mixed range compares signed chars, as x86-64 Redis does.
    (b"[a-\xff]", b"b", false),
    (b"[a-\xff]", b"\xff", true),
    (b"[a-\xff]", b"\x00", true),
    (b"[\x80-\xff]", b"\xc3", true),
    (b"[\x80-\xff]", b"a", false),
  ];

  #[test]
  fn table_agrees_with_redis() {
    for &(pattern, subject, expected) in CASES {
      let shown = (
        String::from_utf8_lossy(pattern),
        String::from_utf8_lossy(subject),
      );
      assert_eq!(redis(pattern, subject), expected, "oracle on {shown:?}");
      assert_eq!(matches(pattern, subject), expected, "{shown:?}");
    }
  }

  /// Every pattern of up to 4 bytes over the special bytes, against every subject of up to 3 bytes.
  #[test]
  fn exhaustively_equivalent_to_redis_on_short_inputs() {
    let pattern_bytes = b"ab*?[]^-\\";
    let subject_bytes = b"ab-]\\*";
    let patterns = all_strings(pattern_bytes, 4);
    let subjects = all_strings(subject_bytes, 3);
    let mut hits = 0;
    for p in &patterns {
      for s in &subjects {
        let expected = redis(p, s);
        assert_eq!(matches(p, s), expected, "{:?} vs {:?}", p, s);
        hits += usize::from(expected);
      }
    }
    assert!(
      hits > 10_000,
      "too few matches ({hits}) for the check to mean much"
    );
  }

  /// Longer random inputs over small alphabets, so that matches are common.
  #[test]
  fn randomly_equivalent_to_redis_on_longer_inputs() {
    let pattern_bytes = b"ab**?[]^-\\\xc3";
    let subject_bytes = b"aab-]\\\xc3";
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |bound: usize| {
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      (seed % bound as u64) as usize
    };
    let mut hits = 0;
    for _ in 0..200_000 {
      let p: Vec<u8> = (0..next(13))
        .map(|_| pattern_bytes[next(pattern_bytes.len())])
        .collect();
      let s: Vec<u8> = (0..next(13))
        .map(|_| subject_bytes[next(subject_bytes.len())])
        .collect();
      let expected = redis(&p, &s);
      assert_eq!(matches(&p, &s), expected, "{:?} vs {:?}", p, s);
      hits += usize::from(expected);
    }
    assert!(
      hits > 1_000,
      "too few matches ({hits}) for the check to mean much"
    );
  }

  #[test]
  fn pathological_patterns_stay_linear() {
    let subject = vec![b'a'; 100_000];
    assert!(!matches(b"a*a*a*a*a*a*a*a*a*a*a*a*b", &subject));
    assert!(matches(b"a*a*a*a*a*a*a*a*a*a*a*a*a", &subject));
    assert!(!matches(b"*a*a*a*a*a*a*a*a*a*a*a*[^a]*", &subject));
  }

  #[test]
  fn redis_gives_up_past_a_thousand_stars() {
    for (stars, tail) in [(1000, ""), (1001, ""), (1000, "*")] {
      let pattern = format!("{}{tail}", "*a".repeat(stars));
      let subject = "a".repeat(stars);
      let expected = stars <= 1000;
      assert_eq!(redis(pattern.as_bytes(), subject.as_bytes()), expected);
      assert_eq!(
        matches(pattern.as_bytes(), subject.as_bytes()),
        expected,
        "{stars}{tail}"
      );
    }
  }

  #[test]
  fn glob_chars_are_found_unless_escaped() {
    for (pattern, expected) in [
      ("", false),
      ("user:42", false),
      ("user:\\*", false),
      ("a\\?b\\[c]", false),
      ("trailing\\", false),
      ("a]b-c^", false),
      ("user:*", true),
      ("user:?", true),
      ("user:[12]", true),
      ("\\\\*", true),
    ] {
      assert_eq!(has_glob_chars(pattern.as_bytes()), expected, "{pattern:?}");
    }
  }

  fn all_strings(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..max_len {
      last = last
        .iter()
        .flat_map(|prefix| {
          alphabet
            .iter()
            .map(move |&b| [prefix.as_slice(), &[b]].concat())
        })
        .collect();
      all.extend(last.iter().cloned());
    }
    all
  }
}
