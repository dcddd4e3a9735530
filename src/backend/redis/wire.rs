//! How a connection to one server is opened: TCP, TLS on top when asked,
//! then the handshake (AUTH, SELECT) every connection of a client sends.
//!
//! - TLS is rustls with the ring provider. The server certificate is always
//!   verified: against `tls.ca` when given (a private CA), else against the
//!   system's roots; the name checked is `tls.servername`, else the host.
//! - A `Dialer` is built once per client, so the roots are read once.
//! - Every step is bounded: opening (TCP, TLS, AUTH, SELECT) by the connect
//!   timeout as a whole, each later request on the stream by its caller's
//!   bound (`request_within`, with the command timeout), so a server that
//!   accepts and never answers cannot hold a connection attempt.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::backend::{Args, Reply};
use crate::error::{Error, Result};
use crate::resp::{encode_command, Inbox};
use crate::target::TlsOptions;

/// An open connection, before or instead of a `Pipe`.
pub enum Stream {
  Tcp(TcpStream),
  Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
  /// Reads what has arrived into `buf`; `Ok(0)` is the end of the stream.
  /// Cancel-safe: nothing is lost when another `select!` branch wins.
  pub async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
    match self {
      Stream::Tcp(s) => s.read_buf(buf).await,
      Stream::Tls(s) => s.read_buf(buf).await,
    }
  }

  pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
    match self {
      Stream::Tcp(s) => s.write_all(bytes).await,
      Stream::Tls(s) => {
        s.write_all(bytes).await?;
        s.flush().await
      }
    }
  }

  /// This connection's id on the server (`CLIENT ID`).
  pub async fn client_id(&mut self) -> Result<i64> {
    self
      .request(crate::args![b"CLIENT", b"ID"])
      .await?
      .as_int()
      .ok_or_else(|| Error::new(crate::error::Kind::Redis, "unexpected CLIENT ID reply"))
  }

  /// `request`, bounded by `limit`: a server that accepted the connection
  /// and never answers fails it as unavailable (the next server is tried).
  pub async fn request_within(&mut self, args: Args, limit: Duration) -> Result<Reply> {
    tokio::time::timeout(limit, self.request(args))
      .await
      .unwrap_or_else(|_| Err(Error::unavailable("Redis did not answer in time")))
  }

  /// Sends one command and reads its reply; only before a `Pipe` owns the
  /// stream, and only where nothing but that reply can follow. Unbounded
  /// itself: callers run it under a bound (`open`'s connect timeout,
  /// `request_within`).
  pub async fn request(&mut self, args: Args) -> Result<Reply> {
    self.request_keeping(args, &mut Inbox::new(512)).await
  }

  /// `request`, on a connection where the server may send more than the
  /// reply (a subscriber): what arrived after it stays in `inbox`, the
  /// start of the next message, instead of being dropped.
  pub async fn request_keeping(&mut self, args: Args, inbox: &mut Inbox) -> Result<Reply> {
    let mut payload = Vec::new();
    encode_command(&mut payload, &args);
    self.write_all(&payload).await?;
    loop {
      if let Some(reply) = inbox.next_reply()? {
        return reply;
      }
      if self.read_buf(inbox.for_read()).await? == 0 {
        return Err(Error::unavailable("Redis closed the connection"));
      }
    }
  }
}

/// Opens connections to the servers of one client.
#[derive(Clone)]
pub struct Dialer {
  tls: Option<Tls>,
  /// AUTH and SELECT, sent on every new connection.
  handshake: Vec<Args>,
  timeout: Duration,
}

#[derive(Clone)]
struct Tls {
  connector: TlsConnector,
  servername: Option<ServerName<'static>>,
}

impl Dialer {
  pub fn new(tls: Option<&TlsOptions>, handshake: Vec<Args>, timeout: Duration) -> Result<Dialer> {
    let tls = tls.map(Tls::new).transpose()?;
    Ok(Dialer {
      tls,
      handshake,
      timeout,
    })
  }

  /// The same transport, with another handshake (a sentinel's credentials).
  pub fn with_handshake(&self, handshake: Vec<Args>) -> Dialer {
    Dialer {
      handshake,
      ..self.clone()
    }
  }

  /// Connects and runs the handshake, within the connect timeout.
  pub async fn open(&self, host: &str, port: u16) -> Result<Stream> {
    let attempt = async {
      let tcp = TcpStream::connect((host, port)).await?;
      tcp.set_nodelay(true)?;
      let mut stream = match &self.tls {
        None => Stream::Tcp(tcp),
        Some(tls) => Stream::Tls(Box::new(tls.wrap(host, tcp).await?)),
      };
      for args in &self.handshake {
        stream.request(args.clone()).await?;
      }
      Ok(stream)
    };
    tokio::time::timeout(self.timeout, attempt)
      .await
      .unwrap_or_else(|_| Err(Error::unavailable("connecting to Redis timed out")))
  }
}

impl Tls {
  fn new(opts: &TlsOptions) -> Result<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    match &opts.ca {
      Some(pem) => {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
          let cert = cert.map_err(|_| Error::invalid("tls.ca: not a PEM certificate bundle"))?;
          roots
            .add(cert)
            .map_err(|e| Error::invalid(format!("tls.ca: {e}")))?;
        }
      }
      None => {
        // Unreadable entries are skipped, as every TLS client does.
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
      }
    }
    if roots.is_empty() {
      return Err(Error::invalid(
        "tls: no trusted CA certificate (none in the system store): pass tls.ca",
      ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
      .with_safe_default_protocol_versions()
      .map_err(|e| Error::invalid(format!("tls: {e}")))?
      .with_root_certificates(roots)
      .with_no_client_auth();
    let servername = match &opts.servername {
      None => None,
      Some(name) => Some(
        ServerName::try_from(name.clone())
          .map_err(|_| Error::invalid("tls.servername: not a valid DNS name or IP address"))?,
      ),
    };
    Ok(Tls {
      connector: TlsConnector::from(Arc::new(config)),
      servername,
    })
  }

  async fn wrap(&self, host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>> {
    let name = match &self.servername {
      Some(name) => name.clone(),
      None => ServerName::try_from(host.to_string())
        .map_err(|_| Error::invalid("tls: the host is not a valid certificate name"))?,
    };
    self
      .connector
      .connect(name, tcp)
      .await
      .map_err(|e| Error::unavailable(format!("TLS handshake failed: {e}")))
  }
}

/// AUTH (when there is a password) and SELECT (when the database is not 0).
pub fn handshake(username: Option<&str>, password: Option<&str>, db: i64) -> Vec<Args> {
  let mut cmds = Vec::new();
  if let Some(password) = password {
    let mut auth = vec![b"AUTH".to_vec()];
    auth.extend(username.map(|u| u.as_bytes().to_vec()));
    auth.push(password.as_bytes().to_vec());
    cmds.push(auth);
  }
  if db != 0 {
    cmds.push(crate::args![b"SELECT", db.to_string()]);
  }
  cmds
}

/// A single-server URL (already validated by the config) as the host, port
/// and handshake it names.
pub fn server_of(url: &str) -> Result<(String, u16, Vec<Args>)> {
  use redis::{ConnectionAddr, IntoConnectionInfo};
  let bad = || Error::invalid("url: not a valid Redis URL");
  let info = url.into_connection_info().map_err(|_| bad())?;
  let (host, port) = match info.addr() {
    ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
      (host.clone(), *port)
    }
    _ => return Err(bad()),
  };
  let settings = info.redis_settings();
  let cmds = handshake(settings.username(), settings.password(), settings.db());
  Ok((host, port, cmds))
}
