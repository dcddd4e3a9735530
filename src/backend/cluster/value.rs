//! redis-rs values as our `Reply`: the cluster driver speaks in them.

use crate::backend::Reply;
use crate::error::{Error, Kind, Result};

pub(crate) fn top_level(value: redis::Value) -> Result<Reply> {
  match value {
    redis::Value::ServerError(err) => Err(Error::new(Kind::Redis, server_error_text(&err))),
    other => Ok(convert(other)),
  }
}

fn server_error_text(err: &redis::ServerError) -> String {
  match err.details() {
    Some(details) => format!("{} {}", err.code(), details),
    None => err.code().to_string(),
  }
}

/// Driver values to our `Reply`; RESP3 maps and sets flatten to arrays as
/// RESP2 would send them.
pub(crate) fn convert(value: redis::Value) -> Reply {
  use redis::Value as V;
  match value {
    V::Nil => Reply::Nil,
    V::Int(n) => Reply::Int(n),
    V::BulkString(b) => Reply::Bulk(b),
    V::Array(items) | V::Set(items) => Reply::Array(items.into_iter().map(convert).collect()),
    V::SimpleString(s) => Reply::Status(s),
    V::Okay => Reply::Status("OK".into()),
    V::Map(pairs) => Reply::Array(
      pairs
        .into_iter()
        .flat_map(|(k, v)| [convert(k), convert(v)])
        .collect(),
    ),
    V::Attribute { data, .. } => convert(*data),
    V::Double(d) => Reply::Double(d),
    V::Boolean(b) => Reply::Bool(b),
    V::VerbatimString { text, .. } => Reply::Bulk(text.into_bytes()),
    V::BigNumber(n) => Reply::Bulk(n),
    V::Push { data, .. } => Reply::Array(data.into_iter().map(convert).collect()),
    V::ServerError(err) => Reply::Error(server_error_text(&err)),
    _ => Reply::Nil,
  }
}
