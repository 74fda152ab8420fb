//! Where `wasgi serve` listens: a TCP address, a unix-domain socket (`unix:PATH`), or
//! the socket systemd passed it (socket activation, `LISTEN_FDS`).
//!
//! Every kind ends up in the same accept loop (`accept`), so the connection cap, the
//! back-off after failed accepts and every request limit apply to each alike.
//!
//! A unix socket's file is ours: a stale one (a socket nobody answers on, left by a
//! server that was killed) is removed before binding, anything else at the path is
//! left alone and refused; the socket is made `0660` (owner and group may connect)
//! before it listens, so no client gets in under a looser mode; and the file is
//! removed when the server stops, if it is still the one we made. A socket from
//! systemd belongs to systemd: it is never removed.
//!
//! A client on a unix socket has no address: its `Peer` is [`Peer::Unix`], which the
//! environ shows as an empty REMOTE_ADDR and no REMOTE_PORT (as gunicorn does) and the
//! access log as `unix:` (as nginx's `$remote_addr`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::task::{Context, Poll};

use tokio::net::{TcpStream, UnixStream};

/// The mode of a unix socket wasgi creates: its owner and group may connect (connecting
/// needs write permission), nobody else.
const SOCKET_MODE: u32 = 0o660;

/// How many connections the kernel queues before wasgi accepts them (the accept loop
/// takes them as fast as they come; the cap is `--max-connections`).
const BACKLOG: i32 = 1024;

/// The first file descriptor systemd passes (`SD_LISTEN_FDS_START`).
const SYSTEMD_FIRST_FD: RawFd = 3;

/// What `--addr` names: `HOST:PORT`, or `unix:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A TCP address; port 0 picks a free port.
    Tcp(SocketAddr),
    /// A unix-domain socket at this path.
    Unix(PathBuf),
}

impl FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("`unix:` needs a path: unix:/run/wasgi.sock".to_owned());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        s.parse().map(Self::Tcp).map_err(|_| {
            format!("{s:?} is neither HOST:PORT (127.0.0.1:8000, [::1]:8000) nor unix:PATH")
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "http://{addr}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Why wasgi cannot listen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The socket cannot be made, bound or set up.
    #[error("cannot listen on {address}: {cause}")]
    Bind {
        /// Where.
        address: Address,
        /// Why.
        cause: io::Error,
    },
    /// Something other than a socket is at a unix socket's path.
    #[error("cannot listen on unix:{}: the path exists and is not a socket; remove it or choose another path", .0.display())]
    NotASocketFile(PathBuf),
    /// A server answers on the unix socket already.
    #[error("cannot listen on unix:{}: another server is listening on it; stop it or choose another path", .0.display())]
    InUse(PathBuf),
    /// `LISTEN_FDS` or `LISTEN_PID` is not a number.
    #[error(
        "{name}={value:?} is not a number; systemd sets it (socket activation): unset it to listen on --addr"
    )]
    BadVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// systemd passed no socket, or more than one.
    #[error(
        "LISTEN_FDS={0}: wasgi serve listens on exactly one socket; give its .socket unit one ListenStream="
    )]
    SocketCount(u32),
    /// The descriptor systemd passed is not a listening stream socket.
    #[error(
        "file descriptor {fd} from systemd (LISTEN_FDS) {what}; the .socket unit needs one ListenStream= (not ListenDatagram=, Accept=no)"
    )]
    NotListening {
        /// The descriptor.
        fd: RawFd,
        /// What it is instead.
        what: String,
    },
}

/// The socket `wasgi serve` listens on, before the server runs: [`Listener::bind`]
/// or [`Listener::from_systemd`], then [`crate::serve::serve`].
#[derive(Debug)]
pub struct Listener {
    kind: Kind,
    /// What `listening on` shows.
    address: Address,
}

#[derive(Debug)]
enum Kind {
    Tcp(std::net::TcpListener),
    /// The file to remove at the end, `None` for a socket from systemd.
    Unix(std::os::unix::net::UnixListener, Option<SocketFile>),
}

impl Listener {
    /// Binds `address`: a TCP port, or a unix socket (removing a stale one first).
    pub fn bind(address: &Address) -> Result<Self, ListenError> {
        let failed = |cause| ListenError::Bind {
            address: address.clone(),
            cause,
        };
        match address {
            Address::Tcp(addr) => {
                let listener = std::net::TcpListener::bind(addr).map_err(failed)?;
                listener.set_nonblocking(true).map_err(failed)?;
                let bound = listener.local_addr().map_err(failed)?;
                Ok(Self {
                    kind: Kind::Tcp(listener),
                    address: Address::Tcp(bound),
                })
            }
            Address::Unix(path) => {
                remove_stale(path)?;
                let (listener, file) = bind_unix(path).map_err(failed)?;
                Ok(Self {
                    kind: Kind::Unix(listener, Some(file)),
                    address: address.clone(),
                })
            }
        }
    }

    /// The socket systemd passed (socket activation), if `LISTEN_FDS` says there is one
    /// for this process: `None` without `LISTEN_FDS`, or when `LISTEN_PID` names
    /// another process (the variables were inherited, not meant for us; as
    /// `sd_listen_fds` does, they are then ignored, with a warning).
    pub fn from_systemd() -> Result<Option<Self>, ListenError> {
        let Some(count) = number("LISTEN_FDS")? else {
            return Ok(None);
        };
        let ours = std::process::id();
        match number("LISTEN_PID")? {
            Some(pid) if pid == ours => {}
            pid => {
                let pid = pid.map_or_else(|| "unset".to_owned(), |pid| pid.to_string());
                tracing::warn!(
                    "LISTEN_FDS is set but LISTEN_PID ({pid}) is not this process ({ours}): ignoring socket activation"
                );
                return Ok(None);
            }
        }
        if count != 1 {
            return Err(ListenError::SocketCount(count));
        }
        let fd = SYSTEMD_FIRST_FD;
        let family = listening_stream(fd)?;
        // SAFETY: `listening_stream` checked that `fd` is open and a socket, and
        // systemd handed it to this process to own; nothing else here takes it.
        #[allow(unsafe_code)]
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let set_up = |cause| ListenError::NotListening {
            fd,
            what: format!("cannot be set up: {cause}"),
        };
        set_cloexec(fd).map_err(set_up)?;
        let (kind, address) = if family == libc::AF_UNIX {
            let listener = std::os::unix::net::UnixListener::from(owned);
            let path = listener
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(Path::to_owned))
                .unwrap_or_default();
            (Kind::Unix(listener, None), Address::Unix(path))
        } else {
            let listener = std::net::TcpListener::from(owned);
            let addr = listener.local_addr().map_err(set_up)?;
            (Kind::Tcp(listener), Address::Tcp(addr))
        };
        let nonblocking = match &kind {
            Kind::Tcp(l) => l.set_nonblocking(true),
            Kind::Unix(l, _) => l.set_nonblocking(true),
        };
        nonblocking.map_err(set_up)?;
        Ok(Some(Self { kind, address }))
    }

    /// Where it listens: `http://HOST:PORT` (the port picked, for port 0) or
    /// `unix:PATH`.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The tokio listener; must be called within a tokio runtime.
    pub(super) fn into_tokio(self) -> io::Result<Accepting> {
        Ok(match self.kind {
            Kind::Tcp(l) => Accepting::Tcp(tokio::net::TcpListener::from_std(l)?),
            Kind::Unix(l, file) => Accepting::Unix {
                listener: tokio::net::UnixListener::from_std(l)?,
                _file: file,
            },
        })
    }
}

/// The value of the number variable `name`, `None` when unset.
fn number(name: &'static str) -> Result<Option<u32>, ListenError> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    value
        .parse()
        .map(Some)
        .map_err(|_| ListenError::BadVariable {
            name,
            value: value.into_owned(),
        })
}

/// The address family of `fd` when it is a listening stream socket.
#[allow(unsafe_code)]
fn listening_stream(fd: RawFd) -> Result<libc::c_int, ListenError> {
    let not = |what: &str| ListenError::NotListening {
        fd,
        what: what.to_owned(),
    };
    // SAFETY: fstat writes only the struct it is given, for any fd number.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return Err(not("is not open"));
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(not("is not a socket"));
    }
    let option = |name| {
        let mut value: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let got = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                name,
                (&raw mut value).cast(),
                &mut len,
            )
        };
        (got == 0).then_some(value)
    };
    if option(libc::SO_TYPE) != Some(libc::SOCK_STREAM) {
        return Err(not("is not a stream socket"));
    }
    if option(libc::SO_ACCEPTCONN) != Some(1) {
        return Err(not("is a socket that is not listening"));
    }
    match option(libc::SO_DOMAIN) {
        Some(family @ (libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX)) => Ok(family),
        _ => Err(not("is neither a TCP nor a unix socket")),
    }
}

/// Keeps `fd` from leaking into programs this process might start (systemd passes it
/// without close-on-exec).
#[allow(unsafe_code)]
fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD / F_SETFD read and set the flags of a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Clears the way for a unix socket at `path`: nothing there, or a stale socket
/// (removed). A live socket, or anything that is not a socket, is refused.
fn remove_stale(path: &Path) -> Result<(), ListenError> {
    let failed = |cause| ListenError::Bind {
        address: Address::Unix(path.to_owned()),
        cause,
    };
    // Not following a symlink: one pointing at a socket is not ours to remove.
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(failed(e)),
        Ok(meta) if !meta.file_type().is_socket() => {
            Err(ListenError::NotASocketFile(path.to_owned()))
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => Err(ListenError::InUse(path.to_owned())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!("removing the stale socket {}", path.display());
                std::fs::remove_file(path).map_err(failed)
            }
            Err(e) => Err(failed(e)),
        },
    }
}

/// A unix socket bound at `path`, made [`SOCKET_MODE`] before it listens.
fn bind_unix(path: &Path) -> io::Result<(std::os::unix::net::UnixListener, SocketFile)> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    // From here on the file is ours: removed again if setting it up fails.
    let meta = std::fs::symlink_metadata(path)?;
    let file = SocketFile {
        path: path.to_owned(),
        id: (meta.dev(), meta.ino()),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok((OwnedFd::from(socket).into(), file))
}

/// The file of a unix socket wasgi bound, removed when dropped (the server stopped)
/// if the path still holds that same socket: a new server may have replaced it.
#[derive(Debug)]
pub(super) struct SocketFile {
    path: PathBuf,
    /// Device and inode of the socket file.
    id: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let same = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|meta| meta.file_type().is_socket() && (meta.dev(), meta.ino()) == self.id);
        if same && let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!("cannot remove the socket {}: {e}", self.path.display());
        }
    }
}

/// A listener in the server's runtime.
pub(super) enum Accepting {
    Tcp(tokio::net::TcpListener),
    Unix {
        listener: tokio::net::UnixListener,
        /// The socket file, removed when this is dropped.
        _file: Option<SocketFile>,
    },
}

impl Accepting {
    /// The next connection and who it is from.
    pub(super) async fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Self::Tcp(l) => {
                let (stream, remote) = l.accept().await?;
                // Each write goes out at once: with Nagle's algorithm a response's
                // last small write waits for the client's delayed ACK (~40 ms).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY: {e}");
                }
                Ok((Stream::Tcp(stream), Peer::Ip(remote)))
            }
            Self::Unix { listener, .. } => {
                Ok((Stream::Unix(listener.accept().await?.0), Peer::Unix))
            }
        }
    }

    /// The TCP address connections arrive on; `None` for a unix socket.
    pub(super) fn local(&self) -> io::Result<Option<SocketAddr>> {
        match self {
            Self::Tcp(l) => l.local_addr().map(Some),
            Self::Unix { .. } => Ok(None),
        }
    }
}

/// Who a connection is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Peer {
    /// A TCP client.
    Ip(SocketAddr),
    /// A client on a unix socket: it has no address.
    Unix,
}

impl Peer {
    /// The client's TCP address.
    pub(super) fn socket_addr(self) -> Option<SocketAddr> {
        match self {
            Self::Ip(addr) => Some(addr),
            Self::Unix => None,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(addr) => addr.fmt(f),
            Self::Unix => f.write_str("unix:"),
        }
    }
}

/// An accepted connection.
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// The readiness-based I/O both kinds of stream have (tokio gives each the same
/// methods, but no trait).
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Stream::Tcp($s) => $e,
            Stream::Unix($s) => $e,
        }
    };
}

impl Stream {
    pub(super) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_read_ready(cx))
    }

    pub(super) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        each!(self, s => s.try_read(buf))
    }

    pub(super) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_write_ready(cx))
    }

    pub(super) fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        each!(self, s => s.try_write(data))
    }

    pub(super) async fn writable(&self) -> io::Result<()> {
        each!(self, s => s.writable().await)
    }
}
