//! The client's IP address, for the device fingerprint and logs.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

/// Header a reverse proxy appends the client address to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's IP address as seen by this request.
///
/// Without `trust_proxy` this is the TCP peer, from axum's
/// `ConnectInfo<SocketAddr>` request extension (present when the server is
/// run with `into_make_service_with_connect_info::<SocketAddr>()`;
/// socketioxide keeps the handshake request's extensions in
/// `socket.req_parts()`). `X-Forwarded-For` is then ignored: any client can
/// write it.
///
/// With `trust_proxy` (the server sits behind exactly one reverse proxy that
/// appends to `X-Forwarded-For`) it is the *rightmost* address of that
/// header, the one the proxy itself added; entries further left came from
/// the client and are not believed. If the header is absent or its last
/// entry is not an address, the TCP peer is used.
///
/// IPv4-mapped IPv6 addresses are returned as IPv4.
pub fn client_ip(
    headers: &HeaderMap,
    extensions: &Extensions,
    trust_proxy: bool,
) -> Option<IpAddr> {
    let forwarded = trust_proxy.then(|| last_forwarded_for(headers)).flatten();
    forwarded
        .or_else(|| peer_ip(extensions))
        .map(|ip| ip.to_canonical())
}

/// The TCP peer address recorded by axum, if the server recorded it.
pub fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last_header = headers.get_all(FORWARDED_FOR).iter().next_back()?;
    let last_entry = last_header.to_str().ok()?.rsplit(',').next()?.trim();
    parse_forwarded_address(last_entry)
}

/// Accepts `203.0.113.7`, `2001:db8::1`, and the forms with a port some
/// proxies write: `203.0.113.7:4711`, `[2001:db8::1]:4711`.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Request};

    fn request(peer: Option<&str>, forwarded_for: &[&str]) -> (HeaderMap, Extensions) {
        let mut builder = Request::builder();
        for value in forwarded_for {
            builder = builder.header(FORWARDED_FOR, HeaderValue::from_str(value).expect("value"));
        }
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().expect("socket address");
            builder = builder.extension(ConnectInfo(addr));
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        (parts.headers, parts.extensions)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("ip"))
    }

    #[test]
    fn uses_the_peer_address() {
        let (headers, extensions) = request(Some("198.51.100.4:50000"), &[]);
        assert_eq!(client_ip(&headers, &extensions, false), ip("198.51.100.4"));
    }

    #[test]
    fn ignores_forwarded_for_unless_the_proxy_is_trusted() {
        let (headers, extensions) = request(Some("10.0.0.1:50000"), &["6.6.6.6"]);
        assert_eq!(client_ip(&headers, &extensions, false), ip("10.0.0.1"));
        assert_eq!(client_ip(&headers, &extensions, true), ip("6.6.6.6"));
    }

    #[test]
    fn trusted_proxy_uses_the_rightmost_entry() {
        let (headers, extensions) = request(
            Some("10.0.0.1:50000"),
            &["1.1.1.1, 2.2.2.2", "3.3.3.3 , 203.0.113.9"],
        );
        assert_eq!(client_ip(&headers, &extensions, true), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxy_accepts_ports_and_falls_back_on_garbage() {
        let (headers, extensions) = request(Some("10.0.0.1:50000"), &["[2001:db8::7]:443"]);
        assert_eq!(client_ip(&headers, &extensions, true), ip("2001:db8::7"));
        let (headers, extensions) = request(Some("10.0.0.1:50000"), &["1.1.1.1, unknown"]);
        assert_eq!(client_ip(&headers, &extensions, true), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_ipv4_is_canonicalised_and_absence_is_none() {
        let (headers, extensions) = request(Some("[::ffff:192.0.2.1]:8080"), &[]);
        assert_eq!(client_ip(&headers, &extensions, false), ip("192.0.2.1"));
        let (headers, extensions) = request(None, &[]);
        assert_eq!(client_ip(&headers, &extensions, false), None);
    }
}
