//! `Debug` without secrets: the options carry passwords (in URLs and on
//! their own), and a `{:?}` in a log line or a panic message must not show them.

use std::fmt;

/// Prints `<redacted>` in place of a secret.
pub struct Redacted;

impl fmt::Debug for Redacted {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("<redacted>")
  }
}

/// `Some(<redacted>)` for a password that is set, `None` otherwise.
pub fn secret(password: &Option<String>) -> Option<Redacted> {
  password.as_ref().map(|_| Redacted)
}

/// A URL's userinfo with its password replaced: `redis://user:<redacted>@host`.
/// Everything up to the last `@` counts as userinfo (a password may hold an
/// unescaped `/` or `@`), so a doubtful URL loses more, never less.
pub fn url(url: &str) -> String {
  let Some((scheme, rest)) = url.split_once("://") else {
    return url.to_string();
  };
  match rest.rsplit_once('@') {
    Some((userinfo, hosts)) => {
      let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
      format!("{scheme}://{user}:<redacted>@{hosts}")
    }
    None => url.to_string(),
  }
}

/// URLs in a `Debug` list, each redacted.
pub struct Urls<'a>(pub &'a [String]);

impl fmt::Debug for Urls<'_> {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_list()
      .entries(self.0.iter().map(|u| url(u)))
      .finish()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn passwords_leave_urls_and_users_hosts_and_paths_stay() {
    assert_eq!(url("redis://u:pw@h:1/2"), "redis://u:<redacted>@h:1/2");
    assert_eq!(url("redis://:pw@h:1"), "redis://:<redacted>@h:1");
    assert_eq!(url("redis://u:p@w/x@h:1"), "redis://u:<redacted>@h:1");
    assert_eq!(url("redis://h:1/2"), "redis://h:1/2");
    assert_eq!(url("not a url"), "not a url");
    assert_eq!(
      format!("{:?}", secret(&Some("pw".into()))),
      "Some(<redacted>)"
    );
    assert_eq!(format!("{:?}", secret(&None)), "None");
  }
}
