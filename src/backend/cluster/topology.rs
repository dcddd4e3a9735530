//! The masters of the cluster, as `CLUSTER SLOTS` names them: where
//! `delete_matching` scans and where the L1's invalidation subscribers go.

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use super::exec;
use crate::backend::Reply;
use crate::error::{Error, Kind, Result};

/// A node's address.
pub type Node = (String, u16);

/// Every master that serves slots, sorted, once each.
pub async fn masters(conn: &mut ClusterConnection) -> Result<Vec<Node>> {
  let slots = conn
    .route_command(
      redis::cmd("CLUSTER").arg("SLOTS").clone(),
      RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
    )
    .await;
  parse(exec::reply(slots)?)
}

/// `[[start, end, [host, port, id, ...], replicas...], ...]` to the masters.
fn parse(reply: Reply) -> Result<Vec<Node>> {
  let unexpected = || Error::new(Kind::Redis, "unexpected CLUSTER SLOTS reply");
  let Reply::Array(ranges) = reply else {
    return Err(unexpected());
  };
  let mut masters = Vec::new();
  for range in ranges {
    let Reply::Array(range) = range else {
      return Err(unexpected());
    };
    let Some(Reply::Array(master)) = range.get(2) else {
      return Err(unexpected());
    };
    let host = match master.first() {
      Some(Reply::Bulk(h)) => String::from_utf8_lossy(h).into_owned(),
      _ => return Err(unexpected()),
    };
    let port = master
      .get(1)
      .and_then(Reply::as_int)
      .and_then(|p| u16::try_from(p).ok())
      .ok_or_else(unexpected)?;
    masters.push((host, port));
  }
  masters.sort();
  masters.dedup();
  Ok(masters)
}

#[cfg(test)]
mod tests {
  use super::*;

  fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
  }

  fn range(start: i64, end: i64, port: i64) -> Reply {
    Reply::Array(vec![
      Reply::Int(start),
      Reply::Int(end),
      Reply::Array(vec![bulk("127.0.0.1"), Reply::Int(port), bulk("id")]),
      Reply::Array(vec![
        bulk("127.0.0.1"),
        Reply::Int(port + 100),
        bulk("replica"),
      ]),
    ])
  }

  #[test]
  fn masters_come_once_each_without_replicas() {
    let reply = Reply::Array(vec![
      range(0, 10, 7001),
      range(11, 20, 7000),
      range(21, 30, 7001),
    ]);
    assert_eq!(
      parse(reply),
      Ok(vec![
        ("127.0.0.1".to_string(), 7000),
        ("127.0.0.1".to_string(), 7001)
      ])
    );
    assert!(parse(Reply::Nil).is_err());
  }
}
