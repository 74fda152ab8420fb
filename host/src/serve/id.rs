//! Request ids: each request gets one, in its access-log line and in its environ as
//! `REQUEST_ID`, so that the guest's own log lines can name the request. Made here
//! (this process's prefix and a counter), or taken from the request's `X-Request-Id`
//! when it comes from a trusted proxy (`--trusted-proxy`) and is well formed: any
//! client can send the header, so from anyone else it only reaches the guest as
//! `HTTP_X_REQUEST_ID`, as every header does.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environ variable that carries the request id.
pub(super) const VARIABLE: &str = "REQUEST_ID";

/// The longest id taken from a proxy.
const MAX_LEN: usize = 128;

/// Makes this process's ids: `PREFIX-N`, the prefix different in each process (from
/// its pid and start time), so ids from the replicas of one service do not collide.
pub(super) struct Ids {
    prefix: String,
    next: AtomicU64,
}

impl Ids {
    pub(super) fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut seed = blake3::Hasher::new();
        seed.update(&std::process::id().to_le_bytes());
        seed.update(&now.as_nanos().to_le_bytes());
        let hex = seed.finalize().to_hex();
        Self {
            prefix: hex[..8].to_owned(),
            next: AtomicU64::new(1),
        }
    }

    /// A new id.
    pub(super) fn make(&self) -> String {
        format!(
            "{}-{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The request's id: its `X-Request-Id` when `peer` is a trusted proxy and the
    /// value is well formed ([`well_formed`]), else a new one. A peer on a unix socket
    /// (`None`) is never trusted: `--trusted-proxy` names IP addresses.
    pub(super) fn of(
        &self,
        headers: &hyper::HeaderMap,
        peer: Option<IpAddr>,
        trusted: &[IpAddr],
    ) -> String {
        if peer.is_some_and(|peer| trusted.contains(&peer)) {
            let given = headers.get("x-request-id").map(|v| v.as_bytes());
            if let Some(id) = given.filter(|id| well_formed(id)) {
                // Checked: ASCII only.
                return String::from_utf8_lossy(id).into_owned();
            }
        }
        self.make()
    }
}

/// An id safe to put in a log line and a variable: 1 to 128 ASCII letters, digits and
/// `-_.:/+=@`. No spaces, quotes or control characters, so it cannot forge or split a
/// log line in either format.
pub(super) fn well_formed(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_with_spaces_quotes_or_control_characters_is_refused() {
        for bad in [
            &b""[..],
            b"a b",
            b"a\"b",
            b"a\nb",
            b"a\rb",
            b"a\x1bb",
            b"\xc3\xa9",
            &[b'a'; MAX_LEN + 1],
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
        for good in [
            &b"abc-123"[..],
            b"Root=1-5759e988-bd862e3fe1be46a994272793",
            &[b'a'; MAX_LEN],
        ] {
            assert!(well_formed(good), "{good:?}");
        }
    }

    #[test]
    fn an_id_is_taken_only_from_a_trusted_proxy() {
        let ids = Ids::new();
        let mut headers = hyper::HeaderMap::new();
        headers.insert("x-request-id", "from-proxy".parse().expect("a value"));
        let proxy: IpAddr = "10.0.0.1".parse().expect("an IP");
        let client: IpAddr = "10.0.0.2".parse().expect("an IP");
        assert_eq!(ids.of(&headers, Some(proxy), &[proxy]), "from-proxy");
        assert_ne!(ids.of(&headers, Some(client), &[proxy]), "from-proxy");
        // A unix-socket peer has no address to trust.
        assert_ne!(ids.of(&headers, None, &[proxy]), "from-proxy");
        headers.insert("x-request-id", "bad id".parse().expect("a value"));
        assert_ne!(ids.of(&headers, Some(proxy), &[proxy]), "bad id");
    }

    #[test]
    fn made_ids_differ() {
        let ids = Ids::new();
        assert_ne!(ids.make(), ids.make());
    }
}
