//! Authentication of a Socket.IO handshake or an HTTP request, as pure
//! functions over what socketioxide and axum hand us (headers, the handshake
//! `auth` value, the current time), so every rule is unit-testable without a
//! socket.
//!
//! Token sources, in order of preference:
//! - access token: `Authorization: Bearer <token>` (non-browser clients set it
//!   deliberately, so it wins), else the `accessToken` cookie (browsers, with
//!   `withCredentials: true`);
//! - refresh token: the `refreshToken` cookie.
//!
//! Rules:
//! - a valid access token authenticates;
//! - a refresh token is not a credential on its own: only beside an
//!   *expired*, correctly signed access token of the same subject (`sub`)
//!   and profile (`profileid`) does a valid refresh token authenticate, with
//!   `refreshed = true` (the socket then hears `tokens_refreshed`), and the
//!   session then lasts until the refresh token's `exp`. Without an access
//!   token the request is `AUTH_MISSING_TOKEN`; with another subject's
//!   refresh token it is `AUTH_INVALID_TOKEN`;
//! - a token whose `nbf` lies in the future (beyond the clock leeway) is
//!   invalid;
//! - an access token that is *invalid* (forged, malformed, wrong algorithm, a
//!   refresh token in its place) fails outright: the refresh token does not
//!   rescue a request that carries a forgery;
//! - for sockets, the handshake `auth.profileid` must equal the token's
//!   `profileid`.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::claims::Claims;
use lockstep_contract::validate;

use super::failure::{AuthFailure, HandshakeProblem, InvalidTokenReason};
use super::token::TokenVerifier;

/// Name of the cookie that carries the access token.
pub const ACCESS_TOKEN_COOKIE: &str = "accessToken";
/// Name of the cookie that carries the refresh token.
pub const REFRESH_TOKEN_COOKIE: &str = "refreshToken";

/// Who is connected, and until when.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatedSession {
    /// Claims of the token that authenticated: the access token's, or the
    /// refresh token's when `refreshed`.
    pub claims: Claims,
    /// True when the access token was expired or absent and the refresh token
    /// authenticated instead (the server should then emit `tokens_refreshed`).
    pub refreshed: bool,
    /// When the authenticating token expires.
    pub expires_at: DateTime<Utc>,
}

/// The handshake `auth` object of the contract: `{ profileid, timestamp }`.
pub use lockstep_contract::types::HandshakeAuth;

/// The tokens a request presented, before any verification.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PresentedTokens {
    pub access: Option<String>,
    pub refresh: Option<String>,
}

impl std::fmt::Debug for PresentedTokens {
    /// Says which tokens are there, never what they contain.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedTokens")
            .field("access", &self.access.as_ref().map(|_| "<present>"))
            .field("refresh", &self.refresh.as_ref().map(|_| "<present>"))
            .finish()
    }
}

impl PresentedTokens {
    /// Collects the tokens from the `Authorization` and `Cookie` headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            access: bearer_token(headers).or_else(|| cookie_value(headers, ACCESS_TOKEN_COOKIE)),
            refresh: cookie_value(headers, REFRESH_TOKEN_COOKIE),
        }
    }
}

/// Authenticates a Socket.IO handshake: the tokens of its HTTP request, then
/// its `auth` object (`None` or JSON `null` when the client sent none), whose
/// `profileid` must match the token.
///
/// Token problems are reported before handshake problems: a client with
/// neither a token nor an `auth` object most needs to hear that it is not
/// signed in.
pub fn authenticate_handshake(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
    auth: Option<&Value>,
    now: DateTime<Utc>,
) -> Result<AuthenticatedSession, AuthFailure> {
    let session = authenticate_request(verifier, headers, now)?;
    let handshake = parse_handshake_auth(auth)?;
    if *handshake.profileid != session.claims.profileid {
        return Err(AuthFailure::ProfileMismatch);
    }
    Ok(session)
}

/// Authenticates an HTTP request (REST API) by the same token rules as the
/// handshake, without the `auth` object.
pub fn authenticate_request(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<AuthenticatedSession, AuthFailure> {
    authenticate_tokens(verifier, &PresentedTokens::from_headers(headers), now)
}

/// The token rules of the module documentation, over tokens already extracted.
pub fn authenticate_tokens(
    verifier: &TokenVerifier,
    tokens: &PresentedTokens,
    now: DateTime<Utc>,
) -> Result<AuthenticatedSession, AuthFailure> {
    let Some(access) = &tokens.access else {
        return Err(AuthFailure::MissingToken);
    };
    let (access_claims, expired) = verifier.verify_access_or_expired_at(access, now)?;
    if !expired {
        return session(access_claims, false);
    }
    let Some(refresh) = &tokens.refresh else {
        return Err(AuthFailure::TokenExpired);
    };
    let refresh_claims = verifier.verify_refresh_at(refresh, now)?;
    if refresh_claims.sub != access_claims.sub
        || refresh_claims.profileid != access_claims.profileid
    {
        return Err(AuthFailure::InvalidToken(
            InvalidTokenReason::UnpairedRefresh,
        ));
    }
    session(refresh_claims, true)
}

fn session(claims: Claims, refreshed: bool) -> Result<AuthenticatedSession, AuthFailure> {
    // The verifier refuses tokens whose `exp` has no date, so this holds.
    let expires_at = claims
        .expires_at()
        .ok_or(AuthFailure::InvalidToken(InvalidTokenReason::BadClaims))?;
    Ok(AuthenticatedSession {
        claims,
        refreshed,
        expires_at,
    })
}

/// Validates the handshake `auth` value against the contract's
/// `HandshakeAuth` (extra fields are allowed there, so that clients may send
/// more than the contract requires).
pub fn parse_handshake_auth(auth: Option<&Value>) -> Result<HandshakeAuth, AuthFailure> {
    match auth {
        None | Some(Value::Null) => Err(AuthFailure::HandshakeInvalid(HandshakeProblem::Missing)),
        Some(value) => validate::handshake_auth(value.clone())
            .map_err(|_| AuthFailure::HandshakeInvalid(HandshakeProblem::Malformed)),
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
/// Other schemes (e.g. `Basic`) are not ours and are ignored.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers.get_all(AUTHORIZATION).iter().find_map(|value| {
        let value = value.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
    })
}

/// The value of cookie `name` in the request's `Cookie` header(s) (RFC 6265:
/// `name=value` pairs separated by `;`, optional spaces, optionally quoted
/// values; HTTP/2 may split them across several headers). The first
/// non-empty occurrence wins. Header values that are not valid text are skipped.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| {
            if key.trim() != name {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|unquoted| unquoted.strip_suffix('"'))
                .unwrap_or(value);
            (!value.is_empty()).then(|| value.to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::tests::{NOW, access_token, now, refresh_token, verifier};
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        headers
    }

    fn cookies(access: Option<&str>, refresh: Option<&str>) -> HeaderMap {
        let mut pairs = vec!["theme=dark".to_owned()];
        if let Some(access) = access {
            pairs.push(format!("accessToken={access}"));
        }
        if let Some(refresh) = refresh {
            pairs.push(format!("refreshToken={refresh}"));
        }
        headers(&[("cookie", &pairs.join("; "))])
    }

    fn auth_for(profileid: &str) -> Value {
        json!({"profileid": profileid, "timestamp": 1_800_000_000_000u64})
    }

    #[test]
    fn valid_access_cookie_authenticates() {
        let session = authenticate_handshake(
            &verifier(),
            &cookies(Some(&access_token(NOW + 600)), None),
            Some(&auth_for("profile-1")),
            now(),
        )
        .expect("authenticated");
        assert!(!session.refreshed);
        assert_eq!(session.claims.profileid, "profile-1");
        assert_eq!(session.expires_at.timestamp(), NOW + 600);
    }

    #[test]
    fn expired_access_with_valid_refresh_is_refreshed() {
        let session = authenticate_handshake(
            &verifier(),
            &cookies(
                Some(&access_token(NOW - 600)),
                Some(&refresh_token(NOW + 86_400)),
            ),
            Some(&auth_for("profile-1")),
            now(),
        )
        .expect("authenticated");
        assert!(session.refreshed);
        assert_eq!(session.expires_at.timestamp(), NOW + 86_400);
    }

    #[test]
    fn a_refresh_token_alone_is_not_a_credential() {
        let result = authenticate_handshake(
            &verifier(),
            &cookies(None, Some(&refresh_token(NOW + 86_400))),
            Some(&auth_for("profile-1")),
            now(),
        );
        assert_eq!(result, Err(AuthFailure::MissingToken));
    }

    #[test]
    fn a_refresh_token_of_another_subject_or_profile_is_refused() {
        let refresh_as = |sub: &str, profileid: &str| {
            let mut claims = crate::auth::token::tests::claims_expiring_at(NOW + 86_400);
            claims.sub = sub.into();
            claims.profileid = profileid.into();
            claims.typ = Some(crate::auth::claims::REFRESH_TOKEN_TYPE.into());
            verifier().mint(&claims).expect("mint")
        };
        for refresh in [
            refresh_as("user-2", "profile-2"),
            refresh_as("user-2", "profile-1"),
            refresh_as("user-1", "profile-2"),
        ] {
            let result = authenticate_request(
                &verifier(),
                &cookies(Some(&access_token(NOW - 600)), Some(&refresh)),
                now(),
            );
            assert_eq!(
                result,
                Err(AuthFailure::InvalidToken(
                    InvalidTokenReason::UnpairedRefresh
                ))
            );
        }
    }

    #[test]
    fn a_valid_access_token_ignores_the_refresh_token_beside_it() {
        let session = authenticate_request(
            &verifier(),
            &cookies(
                Some(&access_token(NOW + 600)),
                Some(&refresh_token(NOW + 86_400)),
            ),
            now(),
        )
        .expect("authenticated");
        assert!(!session.refreshed);
        assert_eq!(session.expires_at.timestamp(), NOW + 600);
    }

    #[test]
    fn expired_access_without_refresh_is_expired() {
        let result = authenticate_handshake(
            &verifier(),
            &cookies(Some(&access_token(NOW - 600)), None),
            Some(&auth_for("profile-1")),
            now(),
        );
        assert_eq!(result, Err(AuthFailure::TokenExpired));
    }

    #[test]
    fn both_expired_is_expired() {
        let result = authenticate_request(
            &verifier(),
            &cookies(
                Some(&access_token(NOW - 600)),
                Some(&refresh_token(NOW - 60)),
            ),
            now(),
        );
        assert_eq!(result, Err(AuthFailure::TokenExpired));
    }

    #[test]
    fn forged_access_is_not_rescued_by_a_refresh_token() {
        let forged = TokenVerifier::new(
            &crate::auth::JwtSecret::new("attacker-secret-0123456789abcdef").expect("non-empty"),
        )
        .mint(&crate::auth::token::tests::claims_expiring_at(NOW + 600))
        .expect("mint");
        let result = authenticate_request(
            &verifier(),
            &cookies(Some(&forged), Some(&refresh_token(NOW + 86_400))),
            now(),
        );
        assert_eq!(
            result,
            Err(AuthFailure::InvalidToken(InvalidTokenReason::BadSignature))
        );
    }

    #[test]
    fn refresh_token_in_the_access_cookie_is_refused() {
        let result = authenticate_request(
            &verifier(),
            &cookies(Some(&refresh_token(NOW + 600)), None),
            now(),
        );
        assert_eq!(
            result,
            Err(AuthFailure::InvalidToken(
                InvalidTokenReason::WrongTokenType
            ))
        );
    }

    #[test]
    fn access_token_in_the_refresh_cookie_is_refused() {
        let result = authenticate_request(
            &verifier(),
            &cookies(
                Some(&access_token(NOW - 600)),
                Some(&access_token(NOW + 600)),
            ),
            now(),
        );
        assert_eq!(
            result,
            Err(AuthFailure::InvalidToken(
                InvalidTokenReason::WrongTokenType
            ))
        );
    }

    #[test]
    fn no_token_is_missing_token() {
        for headers in [HeaderMap::new(), cookies(None, None)] {
            let result =
                authenticate_handshake(&verifier(), &headers, Some(&auth_for("profile-1")), now());
            assert_eq!(result, Err(AuthFailure::MissingToken));
        }
    }

    #[test]
    fn profileid_mismatch_is_refused() {
        let result = authenticate_handshake(
            &verifier(),
            &cookies(Some(&access_token(NOW + 600)), None),
            Some(&auth_for("someone-else")),
            now(),
        );
        assert_eq!(result, Err(AuthFailure::ProfileMismatch));
    }

    #[test]
    fn profileid_is_checked_against_the_refresh_token_too() {
        let result = authenticate_handshake(
            &verifier(),
            &cookies(
                Some(&access_token(NOW - 600)),
                Some(&refresh_token(NOW + 600)),
            ),
            Some(&auth_for("someone-else")),
            now(),
        );
        assert_eq!(result, Err(AuthFailure::ProfileMismatch));
    }

    #[test]
    fn missing_or_malformed_auth_object_is_refused() {
        let valid_cookies = cookies(Some(&access_token(NOW + 600)), None);
        let cases = [
            (None, HandshakeProblem::Missing),
            (Some(Value::Null), HandshakeProblem::Missing),
            (Some(json!("profile-1")), HandshakeProblem::Malformed),
            (Some(json!({"timestamp": 1})), HandshakeProblem::Malformed),
            (
                Some(json!({"profileid": 7, "timestamp": 1})),
                HandshakeProblem::Malformed,
            ),
            (
                Some(json!({"profileid": "", "timestamp": 1})),
                HandshakeProblem::Malformed,
            ),
            (
                Some(json!({"profileid": "profile-1"})),
                HandshakeProblem::Malformed,
            ),
            (
                Some(json!({"profileid": "profile-1", "timestamp": "now"})),
                HandshakeProblem::Malformed,
            ),
        ];
        for (auth, problem) in cases {
            let result = authenticate_handshake(&verifier(), &valid_cookies, auth.as_ref(), now());
            assert_eq!(
                result,
                Err(AuthFailure::HandshakeInvalid(problem)),
                "{auth:?}"
            );
        }
    }

    #[test]
    fn extra_auth_fields_are_ignored() {
        let auth = json!({"profileid": "profile-1", "timestamp": 1.5, "client": "web"});
        let parsed = parse_handshake_auth(Some(&auth)).expect("valid");
        assert_eq!(parsed.profileid.as_str(), "profile-1");
        assert_eq!(parsed.timestamp, 1.5);
    }

    #[test]
    fn bearer_header_authenticates() {
        let token = access_token(NOW + 600);
        let session = authenticate_handshake(
            &verifier(),
            &headers(&[("authorization", &format!("Bearer {token}"))]),
            Some(&auth_for("profile-1")),
            now(),
        )
        .expect("authenticated");
        assert!(!session.refreshed);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_other_schemes_are_ignored() {
        let map = headers(&[("authorization", "bearer   abc.def.ghi ")]);
        assert_eq!(bearer_token(&map).as_deref(), Some("abc.def.ghi"));
        let map = headers(&[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(bearer_token(&map), None);
        let map = headers(&[("authorization", "Bearer ")]);
        assert_eq!(bearer_token(&map), None);
    }

    #[test]
    fn bearer_header_wins_over_the_cookie() {
        let mut map = cookies(Some("garbage"), None);
        map.append(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", access_token(NOW + 600))).expect("value"),
        );
        assert!(authenticate_request(&verifier(), &map, now()).is_ok());
    }

    #[test]
    fn cookie_parsing_handles_several_cookies_spaces_and_quotes() {
        let map = headers(&[(
            "cookie",
            "a=1;accessToken=tok.en.1 ;  other = x ;refreshToken=\"r.e.f\"",
        )]);
        assert_eq!(
            cookie_value(&map, "accessToken").as_deref(),
            Some("tok.en.1")
        );
        assert_eq!(cookie_value(&map, "refreshToken").as_deref(), Some("r.e.f"));
        assert_eq!(cookie_value(&map, "other").as_deref(), Some("x"));
        assert_eq!(cookie_value(&map, "missing"), None);
    }

    #[test]
    fn cookie_names_are_exact_and_split_headers_are_read() {
        let map = headers(&[
            ("cookie", "xaccessToken=wrong; accesstoken=wrong-case"),
            ("cookie", "accessToken=right"),
        ]);
        assert_eq!(cookie_value(&map, "accessToken").as_deref(), Some("right"));
    }

    #[test]
    fn empty_cookie_value_counts_as_absent() {
        let map = headers(&[("cookie", "accessToken=; refreshToken=r")]);
        let tokens = PresentedTokens::from_headers(&map);
        assert_eq!(tokens.access, None);
        assert_eq!(tokens.refresh.as_deref(), Some("r"));
    }

    #[test]
    fn presented_tokens_debug_hides_values() {
        let map = headers(&[(
            "cookie",
            "accessToken=secret-access; refreshToken=secret-refresh",
        )]);
        let printed = format!("{:?}", PresentedTokens::from_headers(&map));
        assert!(!printed.contains("secret"), "{printed}");
    }
}
