//! Error kinds and their stable `FerroError` codes.
//!
//! Errors cross into JavaScript as a small closed set of codes a program can
//! branch on (`err.code`), never as free text only, and never parsed out of
//! text: a completion carries its code beside its message (`bridge::Drained`),
//! and an error a `#[napi]` function throws carries it as its status
//! (`napi::Error<Kind>`), which Node-API makes the JS error's `code`. Every
//! conversion from a driver error lives here, once.

use std::fmt;

/// The closed set of failure kinds; each maps to one `FerroError` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
  InvalidArgument,
  Unavailable,
  Timeout,
  Redis,
  Serialize,
  Closed,
  DraftConflict,
}

impl Kind {
  /// The stable code JavaScript sees as `err.code`.
  pub fn code(self) -> &'static str {
    match self {
      Kind::InvalidArgument => "ERR_INVALID_ARGUMENT",
      Kind::Unavailable => "ERR_UNAVAILABLE",
      Kind::Timeout => "ERR_TIMEOUT",
      Kind::Redis => "ERR_REDIS",
      Kind::Serialize => "ERR_SERIALIZE",
      Kind::Closed => "ERR_CLOSED",
      Kind::DraftConflict => "ERR_DRAFT_CONFLICT",
    }
  }
}

/// A failure with its kind and a message that never contains credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
  kind: Kind,
  message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
  pub fn new(kind: Kind, message: impl Into<String>) -> Self {
    Error {
      kind,
      message: message.into(),
    }
  }

  pub fn invalid(message: impl Into<String>) -> Self {
    Error::new(Kind::InvalidArgument, message)
  }

  pub fn unavailable(message: impl Into<String>) -> Self {
    Error::new(Kind::Unavailable, message)
  }

  pub fn closed() -> Self {
    Error::new(Kind::Closed, "the client is closed")
  }

  pub fn kind(&self) -> Kind {
    self.kind
  }

  pub fn message(&self) -> &str {
    &self.message
  }

  /// True when the connection should be considered lost (reconnect needed).
  pub fn is_connection_lost(&self) -> bool {
    self.kind == Kind::Unavailable
  }
}

/// For Rust's own diagnostics (logs, test failures); JS never reads it.
impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}: {}", self.kind.code(), self.message)
  }
}

impl std::error::Error for Error {}

impl From<redis::RedisError> for Error {
  /// Timeouts first: a response timeout is an I/O error too, and must keep
  /// reporting as `ERR_TIMEOUT` rather than as a dropped connection.
  fn from(err: redis::RedisError) -> Self {
    let kind = if err.is_timeout() {
      Kind::Timeout
    } else if err.is_io_error()
      || err.is_connection_dropped()
      || err.is_connection_refusal()
      || err.is_unrecoverable_error()
    {
      Kind::Unavailable
    } else {
      Kind::Redis
    };
    Error::new(kind, err.to_string())
  }
}

impl From<std::io::Error> for Error {
  /// A socket that failed is a connection lost.
  fn from(err: std::io::Error) -> Self {
    Error::new(Kind::Unavailable, err.to_string())
  }
}

/// The status of an error a `#[napi]` function throws: napi-rs creates the JS
/// error with the status as its `code`, so the JS layer rebuilds a
/// `FerroError` from `err.code` and `err.message` as they are.
impl AsRef<str> for Kind {
  fn as_ref(&self) -> &str {
    self.code()
  }
}

impl From<Error> for napi::Error<Kind> {
  fn from(err: Error) -> Self {
    napi::Error::new(err.kind, err.message)
  }
}

impl From<napi::Error> for Error {
  /// A Node-API call that failed while a client was set up (its env is going
  /// away): the client cannot serve.
  fn from(err: napi::Error) -> Self {
    Error::unavailable(err.reason)
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::io;

  #[test]
  fn every_kind_has_its_code() {
    let pairs = [
      (Kind::InvalidArgument, "ERR_INVALID_ARGUMENT"),
      (Kind::Unavailable, "ERR_UNAVAILABLE"),
      (Kind::Timeout, "ERR_TIMEOUT"),
      (Kind::Redis, "ERR_REDIS"),
      (Kind::Serialize, "ERR_SERIALIZE"),
      (Kind::Closed, "ERR_CLOSED"),
      (Kind::DraftConflict, "ERR_DRAFT_CONFLICT"),
    ];
    for (kind, code) in pairs {
      assert_eq!(kind.code(), code);
      // The status of a thrown error: JS reads it as `err.code`.
      assert_eq!(kind.as_ref(), code);
    }
  }

  #[test]
  fn io_timeout_is_a_timeout_not_a_dropped_connection() {
    let err = redis::RedisError::from(io::Error::new(io::ErrorKind::TimedOut, "slow"));
    assert_eq!(Error::from(err).kind(), Kind::Timeout);
  }

  #[test]
  fn refused_and_reset_connections_are_unavailable() {
    for kind in [
      io::ErrorKind::ConnectionRefused,
      io::ErrorKind::ConnectionReset,
      io::ErrorKind::BrokenPipe,
    ] {
      let err = redis::RedisError::from(io::Error::new(kind, "gone"));
      assert_eq!(Error::from(err).kind(), Kind::Unavailable, "{kind:?}");
    }
  }

  #[test]
  fn server_replies_are_redis_errors() {
    let err = redis::RedisError::from((redis::ErrorKind::Client, "bad"));
    assert_eq!(Error::from(err).kind(), Kind::Redis);
  }

  #[test]
  fn display_starts_with_the_code() {
    let err = Error::invalid("key must not be empty");
    assert_eq!(
      err.to_string(),
      "ERR_INVALID_ARGUMENT: key must not be empty"
    );
  }
}
