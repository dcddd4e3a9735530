//! Finding the current master through Sentinel.
//!
//! - Each connection attempt asks the sentinels in turn (`SENTINEL
//!   get-master-addr-by-name`); the first that names the master wins, and
//!   the supervisor in `redis.rs` checks with `ROLE` that the server is a
//!   master before using it, since a sentinel may still name an old master
//!   right after a failover.
//! - A sentinel is dialled within the connect timeout and must answer
//!   within the command timeout; one that accepts and stays silent is
//!   skipped for the next, never waited on.
//! - A failover is followed by reconnecting: the old master's connection
//!   drops (or its heartbeat `ROLE` reports a replica), and the next attempt
//!   asks the sentinels again.

use std::time::Duration;

use super::wire::{self, Dialer};
use crate::backend::Reply;
use crate::error::{Error, Kind, Result};
use crate::target::SentinelTarget;

pub struct Sentinels {
  master: String,
  /// Host, port, and a dialer with the sentinel's own credentials.
  nodes: Vec<(String, u16, Dialer)>,
  /// How long a sentinel may take to answer (the command timeout).
  reply_timeout: Duration,
}

impl Sentinels {
  /// `dialer` is the master's (TLS settings shared, credentials replaced per sentinel).
  pub fn new(
    target: &SentinelTarget,
    dialer: &Dialer,
    reply_timeout: Duration,
  ) -> Result<Sentinels> {
    let nodes = target
      .sentinels
      .iter()
      .map(|url| {
        let (host, port, handshake) = wire::server_of(url)?;
        Ok((host, port, dialer.with_handshake(handshake)))
      })
      .collect::<Result<_>>()?;
    Ok(Sentinels {
      master: target.name.clone(),
      nodes,
      reply_timeout,
    })
  }

  /// The master's address, from the first sentinel that knows it.
  pub async fn master(&self) -> Result<(String, u16)> {
    let mut last = Error::unavailable("no sentinel answered");
    for (host, port, dialer) in &self.nodes {
      match self.ask(dialer, host, *port).await {
        Ok(addr) => return Ok(addr),
        Err(err) => last = err,
      }
    }
    Err(Error::new(
      last.kind(),
      format!("sentinel: no master '{}': {}", self.master, last.message()),
    ))
  }

  async fn ask(&self, dialer: &Dialer, host: &str, port: u16) -> Result<(String, u16)> {
    let mut stream = dialer.open(host, port).await?;
    let cmd = crate::args![b"SENTINEL", b"get-master-addr-by-name", self.master];
    match stream.request_within(cmd, self.reply_timeout).await? {
      Reply::Array(parts) => match parts.as_slice() {
        [Reply::Bulk(h), port] => {
          let host = String::from_utf8_lossy(h).into_owned();
          let port = port.as_int().and_then(|p| u16::try_from(p).ok());
          port
            .map(|p| (host, p))
            .ok_or_else(|| Error::new(Kind::Redis, "unexpected SENTINEL reply"))
        }
        _ => Err(Error::new(Kind::Redis, "unexpected SENTINEL reply")),
      },
      _ => Err(Error::unavailable("this sentinel does not know the master")),
    }
  }
}

/// Whether a `ROLE` reply is a master's.
pub fn is_master(role: &Reply) -> bool {
  matches!(role, Reply::Array(parts) if parts.first() == Some(&Reply::Bulk(b"master".to_vec())))
}

#[cfg(test)]
mod tests {
  use super::*;
  use tokio::io::{AsyncReadExt, AsyncWriteExt};
  use tokio::net::TcpListener;

  const QUICK: Duration = Duration::from_millis(200);

  /// A server on loopback that accepts and never answers; its URL.
  async fn silent() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("redis://{}", listener.local_addr()?);
    tokio::spawn(async move {
      let mut held = Vec::new();
      while let Ok((socket, _)) = listener.accept().await {
        held.push(socket);
      }
    });
    Ok(url)
  }

  /// A sentinel that names 127.0.0.1:6390 as the master, whatever is asked.
  async fn naming() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("redis://{}", listener.local_addr()?);
    tokio::spawn(async move {
      while let Ok((mut socket, _)) = listener.accept().await {
        let mut buf = [0u8; 512];
        if socket.read(&mut buf).await.is_ok() {
          let _ = socket
            .write_all(b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6390\r\n")
            .await;
        }
      }
    });
    Ok(url)
  }

  fn sentinels(urls: Vec<String>) -> Result<Sentinels> {
    let target = SentinelTarget {
      name: "main".into(),
      sentinels: urls,
      username: None,
      password: None,
      db: 0,
    };
    Sentinels::new(&target, &Dialer::new(None, Vec::new(), QUICK)?, QUICK)
  }

  #[tokio::test]
  async fn a_silent_sentinel_is_skipped_for_the_next() -> std::io::Result<()> {
    let found = match sentinels(vec![silent().await?, naming().await?]) {
      Ok(s) => s.master().await,
      Err(err) => Err(err),
    };
    assert_eq!(found, Ok(("127.0.0.1".to_string(), 6390)));
    Ok(())
  }

  #[tokio::test]
  async fn only_silent_sentinels_fail_as_unavailable() -> std::io::Result<()> {
    let found = match sentinels(vec![silent().await?, silent().await?]) {
      Ok(s) => s.master().await,
      Err(err) => Err(err),
    };
    assert_eq!(found.map_err(|e| e.kind()), Err(Kind::Unavailable));
    Ok(())
  }
}
