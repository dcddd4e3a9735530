//! A plain TCP connection's socket, as the pipe shares it between threads.
//!
//! - `Socket` is the shared half: any thread sends (and reads) directly,
//!   without tokio's readiness; the writer task waits on it for room.
//! - `SocketReader` is tokio's watch for incoming data, owned by the pipe's
//!   read task. Once the JS thread reads the connection on Node's event loop
//!   (`event_loop.rs`), the read task drops it: on Unix tokio then no longer
//!   wakes for every reply. The write registration (its own descriptor, a
//!   `dup` of the socket) asks for writability only, which incoming data
//!   does not trigger.

use std::io;

use tokio::net::TcpStream;

/// Reads into the spare capacity of `buf` with one `recv`.
fn recv_into(socket: socket2::SockRef<'_>, buf: &mut Vec<u8>) -> io::Result<usize> {
  let len = buf.len();
  let n = socket.recv(buf.spare_capacity_mut())?;
  // SAFETY: `recv` initialized the first `n` bytes of the spare capacity.
  unsafe { buf.set_len(len + n) };
  Ok(n)
}

#[cfg(unix)]
mod imp {
  use std::io;
  use std::net::TcpStream as StdStream;

  use tokio::io::unix::AsyncFd;
  use tokio::io::Interest;

  use super::recv_into;

  pub struct Socket {
    /// Registered with tokio for writability only.
    fd: AsyncFd<StdStream>,
  }

  pub struct SocketReader {
    /// A `dup` of the socket, registered with tokio for readability.
    fd: AsyncFd<StdStream>,
  }

  pub fn split(tcp: tokio::net::TcpStream) -> io::Result<(Socket, SocketReader)> {
    let std = tcp.into_std()?;
    let reader = std.try_clone()?;
    Ok((
      Socket {
        fd: register(std, Interest::WRITABLE)?,
      },
      SocketReader {
        fd: register(reader, Interest::READABLE)?,
      },
    ))
  }

  /// Registers with tokio's reactor (we are on a tokio thread).
  fn register(stream: StdStream, interest: Interest) -> io::Result<AsyncFd<StdStream>> {
    // SAFETY: the stream owns its descriptor, and the `AsyncFd` owns the
    // stream: it stays open, and the same, until the `AsyncFd` is dropped.
    unsafe { AsyncFd::register_with_interest(stream, interest) }.map_err(io::Error::from)
  }

  impl Socket {
    pub fn stream(&self) -> &StdStream {
      self.fd.get_ref()
    }

    pub fn try_send(&self, bytes: &[u8]) -> io::Result<usize> {
      io::Write::write(&mut self.fd.get_ref(), bytes)
    }

    /// Sends all of `bytes`, waiting for room as needed.
    pub async fn send_all(&self, mut rest: &[u8]) -> io::Result<()> {
      while !rest.is_empty() {
        let mut guard = self.fd.writable().await?;
        if let Ok(sent) = guard.try_io(|fd| io::Write::write(&mut fd.get_ref(), rest)) {
          rest = &rest[sent?..];
        }
      }
      Ok(())
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
      std::os::fd::AsRawFd::as_raw_fd(self.fd.get_ref())
    }
  }

  impl SocketReader {
    /// Waits for incoming data, then runs `read`, which must read until the
    /// socket would block (tokio's readiness is cleared after it).
    pub async fn on_readable<R>(&self, read: impl FnOnce() -> R) -> io::Result<R> {
      let mut guard = self.fd.readable().await?;
      let out = read();
      guard.clear_ready();
      Ok(out)
    }

    pub fn try_recv(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
      recv_into(socket2::SockRef::from(self.fd.get_ref()), buf)
    }
  }
}

#[cfg(not(unix))]
mod imp {
  use std::io;

  use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
  use tokio::net::TcpStream;

  pub struct Socket {
    write: OwnedWriteHalf,
  }

  pub struct SocketReader {
    read: OwnedReadHalf,
  }

  pub fn split(tcp: TcpStream) -> io::Result<(Socket, SocketReader)> {
    let (read, write) = tcp.into_split();
    Ok((Socket { write }, SocketReader { read }))
  }

  impl Socket {
    pub fn stream(&self) -> &TcpStream {
      self.write.as_ref()
    }

    pub fn try_send(&self, bytes: &[u8]) -> io::Result<usize> {
      napi::bindgen_prelude::within_runtime_if_available(|| self.write.try_write(bytes))
    }

    pub async fn send_all(&self, mut rest: &[u8]) -> io::Result<()> {
      while !rest.is_empty() {
        self.write.writable().await?;
        match self.write.try_write(rest) {
          Ok(n) => rest = &rest[n..],
          Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
          Err(e) => return Err(e),
        }
      }
      Ok(())
    }
  }

  impl SocketReader {
    pub async fn on_readable<R>(&self, read: impl FnOnce() -> R) -> io::Result<R> {
      self.read.readable().await?;
      Ok(read())
    }

    /// Through tokio, which clears its readiness on `WouldBlock`.
    pub fn try_recv(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
      self.read.try_read_buf(buf)
    }
  }
}

pub use imp::{Socket, SocketReader};

/// Splits an open connection into its shared half and tokio's read watch.
pub fn split(tcp: TcpStream) -> io::Result<(Socket, SocketReader)> {
  imp::split(tcp)
}

impl Socket {
  /// One `recv` straight from the socket, from any thread.
  pub fn recv_now(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
    recv_into(socket2::SockRef::from(self.stream()), buf)
  }

  /// Ends both directions, which wakes whoever waits on the socket.
  pub fn shutdown(&self) {
    let _ = socket2::SockRef::from(self.stream()).shutdown(std::net::Shutdown::Both);
  }
}
