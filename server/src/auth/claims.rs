//! The claims Lockstep reads from (and writes into) its JWTs. The names are
//! part of the fixed interface in DESIGN.md: other services mint these tokens.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Value of the `typ` claim that marks a refresh token. Access tokens carry
/// no `typ` (or `"access"`), so a refresh token can never pass for one.
pub const REFRESH_TOKEN_TYPE: &str = "refresh";

/// Value of the `typ` claim an access token may carry explicitly.
pub const ACCESS_TOKEN_TYPE: &str = "access";

/// The payload of an access or refresh token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The profile the token speaks for; the handshake's `auth.profileid`
    /// must equal it.
    pub profileid: String,
    pub username: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before, seconds since the Unix epoch: the token is refused until
    /// then (with the same small leeway as `exp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Free-form permission flags, passed through to the `authenticated` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Map<String, Value>>,
    /// `"refresh"` for refresh tokens; absent (or `"access"`) for access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// Which token [`Claims::issue`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    /// Carries `typ: "refresh"`.
    Refresh,
}

/// Why [`Claims::issue`] made no claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("the system clock is before 1970")]
    ClockBeforeEpoch,
    #[error("the token's lifetime (--ttl) is too long")]
    LifetimeTooLong,
}

impl Claims {
    /// The claims of a new token for `profileid` (user `sub`), issued at
    /// `now` and valid for `ttl`. The optional profile claims (`email`,
    /// `displayname`, `avatar`, `permissions`) are left for the issuer.
    pub fn issue(
        sub: &str,
        profileid: &str,
        username: &str,
        now: DateTime<Utc>,
        ttl: Duration,
        kind: TokenKind,
    ) -> Result<Self, IssueError> {
        let issued_at = u64::try_from(now.timestamp()).map_err(|_| IssueError::ClockBeforeEpoch)?;
        let expires_at = issued_at
            .checked_add(ttl.as_secs())
            .ok_or(IssueError::LifetimeTooLong)?;
        Ok(Self {
            sub: sub.to_owned(),
            profileid: profileid.to_owned(),
            username: username.to_owned(),
            exp: expires_at,
            iat: Some(issued_at),
            nbf: None,
            email: None,
            displayname: None,
            avatar: None,
            permissions: None,
            typ: (kind == TokenKind::Refresh).then(|| REFRESH_TOKEN_TYPE.to_owned()),
        })
    }

    /// Whether these are the claims of a refresh token.
    pub fn is_refresh(&self) -> bool {
        self.typ.as_deref() == Some(REFRESH_TOKEN_TYPE)
    }

    /// Whether these are the claims of an access token.
    pub fn is_access(&self) -> bool {
        matches!(self.typ.as_deref(), None | Some(ACCESS_TOKEN_TYPE))
    }

    /// `exp` as a timestamp; `None` when it lies beyond what a calendar date
    /// can represent (such a token is treated as malformed).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        i64::try_from(self.exp)
            .ok()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_claims_are_omitted_when_absent() {
        let claims = Claims {
            sub: "u1".into(),
            profileid: "p1".into(),
            username: "alice".into(),
            exp: 1_900_000_000,
            iat: None,
            nbf: None,
            email: None,
            displayname: None,
            avatar: None,
            permissions: None,
            typ: None,
        };
        let json = serde_json::to_value(&claims).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({"sub": "u1", "profileid": "p1", "username": "alice", "exp": 1_900_000_000u64})
        );
        assert!(claims.is_access());
        assert!(!claims.is_refresh());
    }

    #[test]
    fn unrepresentable_expiry_has_no_date() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "u1", "profileid": "p1", "username": "a", "exp": u64::MAX
        }))
        .expect("decodes");
        assert_eq!(claims.expires_at(), None);
    }
}
