//! URLs that name several servers: `redis+cluster://` (seed nodes) and
//! `redis+sentinel://` (sentinels and a master name), which the `url` crate
//! forms of redis-rs cannot hold (one host per URL).
//!
//! Shape: `scheme://[user[:password]@]host[:port][,host[:port]...][/path]`.

use std::fmt;

use crate::error::{Error, Result};
use crate::redact::Redacted;

/// A parsed multi-host URL, credentials still percent-encoded. `Debug`
/// hides the password.
#[derive(PartialEq, Eq)]
pub struct MultiHost<'a> {
  /// `rediss+...`: TLS to every server.
  pub tls: bool,
  /// `user:password` as written, without the `@`.
  pub userinfo: Option<&'a str>,
  pub hosts: Vec<&'a str>,
  /// The path without its leading `/` (may be empty).
  pub path: &'a str,
}

impl fmt::Debug for MultiHost<'_> {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let user = self
      .userinfo
      .map(|u| u.split_once(':').map_or(u, |(user, _)| user));
    let password = self
      .userinfo
      .and_then(|u| u.split_once(':'))
      .map(|_| Redacted);
    f.debug_struct("MultiHost")
      .field("tls", &self.tls)
      .field("user", &user)
      .field("password", &password)
      .field("hosts", &self.hosts)
      .field("path", &self.path)
      .finish()
  }
}

/// Parses `url` if it has the scheme `redis+<kind>://` or `rediss+<kind>://`.
pub fn parse<'a>(url: &'a str, kind: &str) -> Option<Result<MultiHost<'a>>> {
  let (tls, rest) = if let Some(rest) = url.strip_prefix("redis+") {
    (false, rest)
  } else {
    (true, url.strip_prefix("rediss+")?)
  };
  let rest = rest.strip_prefix(kind)?.strip_prefix("://")?;
  let bad = || Error::invalid(format!("url: not a valid redis+{kind}:// URL"));
  let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
  let (userinfo, hosts) = match authority.rsplit_once('@') {
    Some((u, h)) => (Some(u), h),
    None => (None, authority),
  };
  let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
  if hosts.iter().any(|h| !valid_host(h)) {
    return Some(Err(bad()));
  }
  Some(Ok(MultiHost {
    tls,
    userinfo,
    hosts,
    path,
  }))
}

/// `host:port` or `host` (IPv6 in brackets), no path, no credentials.
fn valid_host(h: &str) -> bool {
  let (host, port) = match h.rsplit_once(':') {
    Some((host, port)) if !port.contains(']') => (host, Some(port)),
    _ => (h, None),
  };
  !host.is_empty()
    && !host.contains(['/', '@', '?', '#', ' '])
    && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

impl MultiHost<'_> {
  /// One single-server URL per host, carrying the shared credentials.
  pub fn server_urls(&self) -> Vec<String> {
    let scheme = if self.tls { "rediss" } else { "redis" };
    let auth = self.userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    self
      .hosts
      .iter()
      .map(|h| format!("{scheme}://{auth}{h}"))
      .collect()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn splits_hosts_credentials_and_path() {
    let parsed = parse(
      "redis+sentinel://u:p%40w@a:26379, b:26380/mymaster/2",
      "sentinel",
    );
    let want = MultiHost {
      tls: false,
      userinfo: Some("u:p%40w"),
      hosts: vec!["a:26379", "b:26380"],
      path: "mymaster/2",
    };
    assert_eq!(parsed, Some(Ok(want)));
  }

  #[test]
  fn debug_shows_no_password() {
    let parsed = parse("redis+cluster://app:s3cr3t@a:7000", "cluster");
    let text = format!("{parsed:?}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(
      text.contains("app") && text.contains("Some(<redacted>)"),
      "{text}"
    );
  }

  #[test]
  fn other_schemes_are_not_ours() {
    assert_eq!(parse("redis://a:1", "cluster"), None);
    assert_eq!(parse("redis+sentinel://a:1", "cluster"), None);
  }

  #[test]
  fn server_urls_keep_tls_and_credentials() {
    let parsed = parse("rediss+cluster://:pw@a:7000,b:7001", "cluster");
    let urls = parsed.and_then(|p| p.ok()).map(|p| p.server_urls());
    assert_eq!(
      urls,
      Some(vec![
        "rediss://:pw@a:7000".into(),
        "rediss://:pw@b:7001".into()
      ])
    );
  }

  #[test]
  fn bad_hosts_are_refused() {
    for url in [
      "redis+cluster://",
      "redis+cluster://a:0",
      "redis+cluster://a:x",
      "redis+cluster://a,,b",
    ] {
      assert!(matches!(parse(url, "cluster"), Some(Err(_))), "{url}");
    }
  }
}
