//! `memory://` URLs: config parses every URL, the memory backend takes the
//! store name and bound they give.

use crate::error::{Error, Result};

/// What a `memory://[name][?maxBytes=N]` URL asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryUrl {
  /// `None`: a store of this client alone.
  pub name: Option<String>,
  /// Bound on the store's estimated size; `None`: unbounded.
  pub max_bytes: Option<usize>,
}

impl MemoryUrl {
  /// `None` when `url` is not a `memory://` URL.
  pub fn parse(url: &str) -> Option<Result<MemoryUrl>> {
    const SCHEME: &str = "memory://";
    let head = url.get(..SCHEME.len())?;
    if !head.eq_ignore_ascii_case(SCHEME) {
      return None;
    }
    let rest = url.get(SCHEME.len()..).unwrap_or_default();
    let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
    let name = name.trim_end_matches('/');
    let mut parsed = MemoryUrl {
      name: (!name.is_empty()).then(|| name.to_string()),
      max_bytes: None,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
      match pair.split_once('=') {
        Some(("maxBytes", n)) => match n.parse::<usize>() {
          Ok(n) if n > 0 => parsed.max_bytes = Some(n),
          _ => {
            return Some(Err(Error::invalid(
              "url: maxBytes must be a positive integer (memory://name?maxBytes=1048576)",
            )))
          }
        },
        _ => {
          return Some(Err(Error::invalid(format!(
            "url: unknown memory:// option '{pair}' (expected maxBytes)"
          ))))
        }
      }
    }
    Some(Ok(parsed))
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::error::Kind;

  #[test]
  fn urls_name_a_store_and_its_bound() {
    let parse = |url: &str| MemoryUrl::parse(url).map(|r| r.map_err(|e| e.kind()));
    assert_eq!(parse("redis://h:1"), None);
    assert_eq!(parse("memory://"), Some(Ok(MemoryUrl::default())));
    assert_eq!(
      parse("MEMORY://shop/"),
      Some(Ok(MemoryUrl {
        name: Some("shop".into()),
        max_bytes: None
      }))
    );
    assert_eq!(
      parse("memory://shop?maxBytes=1048576"),
      Some(Ok(MemoryUrl {
        name: Some("shop".into()),
        max_bytes: Some(1 << 20)
      }))
    );
    assert_eq!(
      parse("memory://?maxBytes=10")
        .and_then(|r| r.ok())
        .map(|u| u.max_bytes),
      Some(Some(10))
    );
    for bad in [
      "memory://x?maxBytes=0",
      "memory://x?maxBytes=-1",
      "memory://x?size=1",
    ] {
      assert_eq!(parse(bad), Some(Err(Kind::InvalidArgument)), "{bad}");
    }
  }
}
