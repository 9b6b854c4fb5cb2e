//! Which browser origins may talk to the server: CORS for the REST API and
//! the same rule for the Socket.IO handshake.
//!
//! Browsers attach cookies (the `accessToken`) to cross-site requests, so a
//! page on another site could otherwise act as the signed-in user. The
//! policy: a request without an `Origin` header (not a browser, or a
//! same-origin navigation) is accepted; a request whose `Origin` is the
//! server's own (its host and port equal the `Host` header, or with
//! `--trust-proxy` the `X-Forwarded-Host` a proxy set) is accepted; a
//! request from an origin listed in `--allowed-origins` is accepted, and
//! gets CORS headers with credentials; anything else is refused with `403`
//! before it reaches a handler or the Socket.IO layer (so a WebSocket
//! handshake from another site fails and its cookies are never read).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lockstep_contract::types::ErrorCode;
use lockstep_contract::validate::bounded;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::rest::ApiError;
use crate::telemetry::names;

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// The allowed origins: the server's own, plus a configured list.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Normalised `scheme://host[:port]` (lowercase, default port omitted).
    allowed: Vec<String>,
    /// Also believe `X-Forwarded-Host` for the same-origin rule.
    trust_proxy: bool,
}

impl OriginPolicy {
    /// `allowed` must be normalised already (see [`parse_origin`]).
    pub fn new(allowed: Vec<String>, trust_proxy: bool) -> Self {
        Self {
            allowed,
            trust_proxy,
        }
    }

    /// Whether a request with these headers may proceed.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        match headers.get(ORIGIN) {
            None => true,
            Some(origin) => self.allows(origin, headers),
        }
    }

    /// Whether `origin` (an `Origin` header) is allowed for a request with
    /// `headers`.
    pub fn allows(&self, origin: &HeaderValue, headers: &HeaderMap) -> bool {
        let Some(origin) = origin.to_str().ok().and_then(|o| parse_origin(o).ok()) else {
            return false;
        };
        if self.allowed.contains(&origin) {
            return true;
        }
        let mut hosts = headers.get_all(HOST).iter().collect::<Vec<_>>();
        if self.trust_proxy
            && let Some(forwarded) = headers.get_all("x-forwarded-host").iter().next_back()
        {
            hosts.push(forwarded);
        }
        hosts
            .into_iter()
            .filter_map(|host| host.to_str().ok())
            .any(|host| same_origin(&origin, host))
    }

    #[cfg(test)]
    /// Whether only the server's own origin is allowed.
    pub fn same_origin_only(&self) -> bool {
        self.allowed.is_empty()
    }
}

/// Whether the normalised `origin` names the host (and port) `host`.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let host = host.rsplit(',').next().unwrap_or_default().trim();
    let host = strip_default_port(scheme, host);
    authority == host
}

fn strip_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = match scheme {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return authority,
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// Parses an origin as browsers send it, `scheme://host[:port]`, into the
/// form the policy compares: lowercase, default port omitted, no trailing
/// slash. Paths, queries, credentials and `null` are refused.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = text
        .split_once("://")
        .ok_or_else(|| format!("{text:?} is not an origin (expected scheme://host[:port])"))?;
    if !matches!(scheme, "http" | "https") {
        return Err(format!("{text:?}: the scheme must be http or https"));
    }
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@', ' ', '*'])
        || authority.starts_with(':')
    {
        return Err(format!(
            "{text:?} is not an origin (expected scheme://host[:port], no path)"
        ));
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("{text:?}: the port is not a number"));
    }
    Ok(format!(
        "{scheme}://{}",
        strip_default_port(scheme, authority)
    ))
}

/// CORS for the allowed origins, with credentials (cookies).
pub fn cors_layer(policy: Arc<OriginPolicy>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            policy.allows(origin, &parts.headers)
        }))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        .max_age(PREFLIGHT_MAX_AGE)
}

/// Middleware: refuses any request (REST, Socket.IO handshake or polling)
/// whose `Origin` is not allowed, with `403 FORBIDDEN`. Use with
/// `axum::middleware::from_fn_with_state(policy, origin::guard)`.
pub async fn guard(
    State(policy): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    if policy.admits(request.headers()) {
        return next.run(request).await;
    }
    let handshake = request
        .uri()
        .path()
        .starts_with(crate::transport::SOCKET_IO_PATH);
    let reason = if handshake { "socket" } else { "http" };
    metrics::counter!(names::ORIGIN_REFUSED, "reason" => reason).increment(1);
    let origin = request
        .headers()
        .get(ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or("?");
    // The request's `http` span carries the method, path and client address.
    tracing::warn!(origin = %bounded(origin), "request from a disallowed origin refused");
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "this origin is not allowed",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            parse_origin("HTTPS://Chat.Example.com/"),
            Ok("https://chat.example.com".into())
        );
        assert_eq!(
            parse_origin("https://chat.example.com:443"),
            Ok("https://chat.example.com".into())
        );
        assert_eq!(
            parse_origin("http://localhost:5173"),
            Ok("http://localhost:5173".into())
        );
        assert_eq!(
            parse_origin("http://[::1]:8080"),
            Ok("http://[::1]:8080".into())
        );
        for bad in [
            "chat.example.com",
            "ftp://x",
            "https://x/path",
            "https://user@x",
            "null",
            "https://*.example.com",
            "http://x:port",
            "https://",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_origin_and_same_origin_are_always_admitted() {
        let policy = OriginPolicy::default();
        assert!(policy.same_origin_only());
        assert!(policy.admits(&headers(&[("host", "127.0.0.1:3000")])));
        assert!(policy.admits(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(policy.admits(&headers(&[
            ("host", "chat.example.com"),
            ("origin", "https://chat.example.com")
        ])));
        assert!(policy.admits(&headers(&[
            ("host", "chat.example.com:443"),
            ("origin", "https://chat.example.com")
        ])));
        assert!(!policy.admits(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3001")
        ])));
        assert!(!policy.admits(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example")
        ])));
        assert!(!policy.admits(&headers(&[("host", "127.0.0.1:3000"), ("origin", "null")])));
    }

    #[test]
    fn listed_origins_are_admitted() {
        let policy = OriginPolicy::new(
            vec![parse_origin("https://app.example.com").expect("origin")],
            false,
        );
        let from = |origin| headers(&[("host", "api.example.com"), ("origin", origin)]);
        assert!(policy.admits(&from("https://app.example.com")));
        assert!(policy.admits(&from("https://APP.example.com:443")));
        assert!(!policy.admits(&from("http://app.example.com")));
        assert!(!policy.admits(&from("https://app.example.com.evil.example")));
    }

    #[test]
    fn forwarded_host_counts_only_behind_a_trusted_proxy() {
        let proxied = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-forwarded-host", "chat.example.com"),
            ("origin", "https://chat.example.com"),
        ]);
        assert!(!OriginPolicy::new(Vec::new(), false).admits(&proxied));
        assert!(OriginPolicy::new(Vec::new(), true).admits(&proxied));
    }
}
