//! What a guest may reach beyond its request: nothing, unless the operator grants it.
//!
//! By default a guest's WASI context has no preopened directory (so no host file), an
//! empty environment (its environ is the request's, passed to `call`), and a network
//! no TCP or UDP at all (creating a socket is refused). Its stdout and stderr go to the log. Each grant is a flag:
//! `--dir HOST[::GUEST]`, `--ro-dir HOST[::GUEST]`, `--env NAME[=VALUE]` and
//! `--allow-connect IP:PORT`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::limits::{LogBudget, LogStream};

/// A host directory the guest may open, and where it sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Its path inside the guest.
    pub guest: String,
    /// Whether the guest may only read.
    pub read_only: bool,
}

impl DirGrant {
    /// Parses `HOST[::GUEST]`; without `::GUEST` the guest sees the host path.
    pub fn parse(spec: &str, read_only: bool) -> Result<Self, String> {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            return Err(format!(
                "{spec:?}: write a directory grant as HOST or HOST::GUEST"
            ));
        }
        Ok(Self {
            host: host.into(),
            guest: guest.to_owned(),
            read_only,
        })
    }
}

/// Parses `NAME=VALUE`, or `NAME` alone for the host's own value of `NAME`.
pub fn parse_env(spec: &str) -> Result<(String, String), String> {
    let (name, value) = match spec.split_once('=') {
        Some((name, value)) => (name, value.to_owned()),
        None => (
            spec,
            std::env::var(spec).map_err(|_| {
                format!(
                    "--env {spec}: the host has no variable {spec} (set it, or write NAME=VALUE)"
                )
            })?,
        ),
    };
    if name.is_empty() {
        return Err(format!(
            "{spec:?}: write an environment grant as NAME or NAME=VALUE"
        ));
    }
    Ok((name.to_owned(), value))
}

/// Everything granted to the guests of one application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Directories, in flag order.
    pub dirs: Vec<DirGrant>,
    /// Environment variables the guest sees (`wasi:cli/environment`).
    pub env: Vec<(String, String)>,
    /// Addresses the guest may connect (or send datagrams) to.
    pub connect: Vec<SocketAddr>,
}

impl Grants {
    /// Checks, once, that every granted directory can be opened: a typo is a startup
    /// error, not a failure on every request.
    pub fn check(&self) -> Result<(), String> {
        let (stdout, stderr) = LogStream::pair(&LogBudget::new(0));
        self.wasi(stdout, stderr).map(drop)
    }

    /// A WASI context with exactly these grants, its stdout and stderr to the log.
    pub(crate) fn wasi(&self, stdout: LogStream, stderr: LogStream) -> Result<WasiCtx, String> {
        let mut builder = WasiCtxBuilder::new();
        builder.stdout(stdout).stderr(stderr).envs(&self.env);
        for dir in &self.dirs {
            let perms = if dir.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            builder
                .preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| format!("--dir {}: cannot open it: {e:#}", dir.host.display()))?;
        }
        // TCP and UDP sockets cannot even be created without a grant; with one, the
        // address check decides.
        let networked = !self.connect.is_empty();
        builder.allow_tcp(networked).allow_udp(networked);
        let connect: Arc<[SocketAddr]> = self.connect.as_slice().into();
        builder.socket_addr_check(move |addr, usage| {
            let allowed = may_use(&connect, addr, usage);
            Box::pin(async move { allowed })
        });
        Ok(builder.build())
    }
}

/// The network check: connecting (and the implicit bind to an ephemeral port that
/// comes with it) to a granted address; nothing else, so never listening.
fn may_use(granted: &[SocketAddr], addr: SocketAddr, usage: SocketAddrUse) -> bool {
    match usage {
        SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => granted.contains(&addr),
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
            !granted.is_empty() && addr.ip().is_unspecified() && addr.port() == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_grant_is_host_or_host_and_guest() {
        assert_eq!(
            DirGrant::parse("/srv/data::/data", true),
            Ok(DirGrant {
                host: "/srv/data".into(),
                guest: "/data".into(),
                read_only: true
            })
        );
        assert_eq!(
            DirGrant::parse("/srv", false).map(|d| d.guest),
            Ok("/srv".to_owned())
        );
        assert!(DirGrant::parse("::/data", false).is_err());
        assert!(DirGrant::parse("/srv::", false).is_err());
    }

    #[test]
    fn an_env_grant_is_a_pair_or_a_host_name() {
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(parse_env("A="), Ok(("A".into(), String::new())));
        assert!(parse_env("=x").is_err());
        let missing = parse_env("WASGI_SURELY_UNSET_VARIABLE").expect_err("unset");
        assert!(
            missing.contains("no variable WASGI_SURELY_UNSET_VARIABLE"),
            "{missing}"
        );
    }

    #[test]
    fn only_granted_addresses_may_be_reached_and_nothing_may_listen() {
        let granted: Vec<SocketAddr> = vec!["127.0.0.1:9".parse().expect("addr")];
        let to = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert!(may_use(
            &granted,
            to("127.0.0.1:9"),
            SocketAddrUse::TcpConnect
        ));
        assert!(!may_use(
            &granted,
            to("127.0.0.1:10"),
            SocketAddrUse::TcpConnect
        ));
        assert!(may_use(&granted, to("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(!may_use(&granted, to("0.0.0.0:80"), SocketAddrUse::TcpBind));
        assert!(!may_use(
            &granted,
            to("127.0.0.1:9"),
            SocketAddrUse::TcpListen
        ));
        assert!(!may_use(&[], to("0.0.0.0:0"), SocketAddrUse::TcpBind));
    }
}
