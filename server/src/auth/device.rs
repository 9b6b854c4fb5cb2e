//! Device fingerprint and a simple connection risk score, reported in the
//! `authenticated` event's `security` block.
//!
//! The fingerprint is a heuristic for "have we seen this browser on this
//! network before", not an identity: it is derived only from what every
//! request carries, stores nothing reversible, and is stable across the
//! small changes that should not count as a new device.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// Versioned domain separator: changing the normalisation must change every
/// fingerprint rather than silently collide with the old ones.
const FINGERPRINT_DOMAIN: &str = "lockstep-device-v1";

/// Bytes of the SHA-256 digest kept in the fingerprint (rendered as 32 hex
/// characters): plenty to tell a user's devices apart.
const FINGERPRINT_BYTES: usize = 16;

/// A device fingerprint: hex of the first 16 bytes of SHA-256 over
///
/// ```text
/// lockstep-device-v1\n
/// ua:<user agent, trimmed, runs of whitespace collapsed to one space, lowercased>\n
/// net:<network of the client address>
/// ```
///
/// where an absent user agent is written `-`, and the network is the /24 of
/// an IPv4 address (`v4:203.0.113.0/24`), the /48 of an IPv6 address
/// (`v6:2001:db8:1::/48`) or `-` when the address is unknown. IPv4-mapped
/// IPv6 addresses (`::ffff:a.b.c.d`, as dual-stack sockets report IPv4
/// peers) count as IPv4. Using the network rather than the address keeps a
/// DHCP renewal or IPv6 privacy-address rotation from looking like a new
/// device.
pub fn fingerprint(user_agent: Option<&str>, client_ip: Option<IpAddr>) -> String {
    let user_agent = user_agent
        .map(normalise_user_agent)
        .filter(|agent| !agent.is_empty())
        .unwrap_or_else(|| "-".to_owned());
    let network = client_ip.map_or_else(|| "-".to_owned(), network_of);
    let digest = Sha256::digest(format!(
        "{FINGERPRINT_DOMAIN}\nua:{user_agent}\nnet:{network}"
    ));
    hex::encode(&digest[..FINGERPRINT_BYTES])
}

fn normalise_user_agent(user_agent: &str) -> String {
    user_agent
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The /24 (IPv4) or /48 (IPv6) network of an address, as text.
fn network_of(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("v4:{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let [a, b, c, ..] = v6.segments();
            format!("v6:{a:x}:{b:x}:{c:x}::/48")
        }
    }
}

/// Risk added when the device fingerprint is new for this user.
pub const RISK_NEW_DEVICE: u8 = 50;
/// Risk added when the session was revived from a refresh token (the access
/// token had expired or was absent).
pub const RISK_REFRESHED: u8 = 25;
/// Risk added when the client sent no `User-Agent` (scripts and bots do not).
pub const RISK_NO_USER_AGENT: u8 = 25;

/// A connection risk score in 0..=100: the sum of [`RISK_NEW_DEVICE`],
/// [`RISK_REFRESHED`] and [`RISK_NO_USER_AGENT`] for the signals present.
/// Deliberately simple and explainable; it informs clients and logs and
/// gates nothing by itself.
pub fn risk_score(device_previously_seen: bool, refreshed: bool, user_agent_present: bool) -> u8 {
    let signals = [
        (!device_previously_seen, RISK_NEW_DEVICE),
        (refreshed, RISK_REFRESHED),
        (!user_agent_present, RISK_NO_USER_AGENT),
    ];
    let total: u8 = signals
        .iter()
        .filter(|(present, _)| *present)
        .map(|(_, weight)| *weight)
        .sum();
    total.min(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("ip address"))
    }

    #[test]
    fn fingerprint_is_32_hex_characters() {
        let print = fingerprint(Some(FIREFOX), ip("203.0.113.7"));
        assert_eq!(print.len(), 32);
        assert!(print.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn fingerprint_is_stable_within_the_same_ipv4_24() {
        assert_eq!(
            fingerprint(Some(FIREFOX), ip("203.0.113.7")),
            fingerprint(Some(FIREFOX), ip("203.0.113.250"))
        );
        assert_ne!(
            fingerprint(Some(FIREFOX), ip("203.0.113.7")),
            fingerprint(Some(FIREFOX), ip("203.0.114.7"))
        );
    }

    #[test]
    fn fingerprint_is_stable_within_the_same_ipv6_48() {
        assert_eq!(
            fingerprint(Some(FIREFOX), ip("2001:db8:1:aaaa::1")),
            fingerprint(Some(FIREFOX), ip("2001:db8:1:bbbb:1234::9"))
        );
        assert_ne!(
            fingerprint(Some(FIREFOX), ip("2001:db8:1::1")),
            fingerprint(Some(FIREFOX), ip("2001:db8:2::1"))
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4() {
        assert_eq!(
            fingerprint(Some(FIREFOX), ip("::ffff:203.0.113.7")),
            fingerprint(Some(FIREFOX), ip("203.0.113.9"))
        );
    }

    #[test]
    fn user_agent_whitespace_and_case_do_not_matter_but_the_agent_does() {
        assert_eq!(
            fingerprint(Some("  Mozilla/5.0   (X11) "), None),
            fingerprint(Some("mozilla/5.0 (x11)"), None)
        );
        assert_ne!(
            fingerprint(Some("Mozilla/5.0 (X11)"), None),
            fingerprint(Some("curl/8.0"), None)
        );
        assert_eq!(fingerprint(Some("   "), None), fingerprint(None, None));
    }

    #[test]
    fn network_text_is_as_documented() {
        assert_eq!(
            network_of("10.1.2.3".parse().expect("ip")),
            "v4:10.1.2.0/24"
        );
        assert_eq!(
            network_of("2001:db8:1:2::3".parse().expect("ip")),
            "v6:2001:db8:1::/48"
        );
    }

    #[test]
    fn risk_score_adds_up_the_signals() {
        assert_eq!(risk_score(true, false, true), 0);
        assert_eq!(risk_score(false, false, true), 50);
        assert_eq!(risk_score(true, true, true), 25);
        assert_eq!(risk_score(true, false, false), 25);
        assert_eq!(risk_score(false, true, false), 100);
    }
}
