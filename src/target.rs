//! Where and how to connect: the plain connection data the backends take
//! (`config` parses the options into it). `Debug` hides the passwords.

use std::fmt;

use crate::redact;

/// A master found through Sentinel. `Debug` hides the passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelTarget {
  /// The master's name, as the sentinels know it.
  pub name: String,
  /// The sentinels, as `redis://[user:pass@]host:port` URLs.
  pub sentinels: Vec<String>,
  pub username: Option<String>,
  pub password: Option<String>,
  pub db: i64,
}

impl fmt::Debug for SentinelTarget {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_struct("SentinelTarget")
      .field("name", &self.name)
      .field("sentinels", &redact::Urls(&self.sentinels))
      .field("username", &self.username)
      .field("password", &redact::secret(&self.password))
      .field("db", &self.db)
      .finish()
  }
}

/// TLS settings; certificates are always verified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
  /// PEM of the CAs to trust; `None`: the system's roots.
  pub ca: Option<String>,
  /// The certificate name to check, when not the host's.
  pub servername: Option<String>,
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn sentinel_debug_hides_both_passwords() {
    let target = SentinelTarget {
      name: "m".into(),
      sentinels: vec!["redis://u:s3cr3t@a:26379".into()],
      username: Some("app".into()),
      password: Some("s3cr3t".into()),
      db: 2,
    };
    let text = format!("{target:?}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("redis://u:<redacted>@a:26379"), "{text}");
    assert!(text.contains("password: Some(<redacted>)"), "{text}");
    assert!(text.contains("app") && text.contains("db: 2"), "{text}");
  }
}
