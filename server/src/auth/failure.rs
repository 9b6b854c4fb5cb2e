//! Why authentication failed, as a stable code for clients and a reason for
//! our own logs.

use std::fmt;

use lockstep_contract::types::ErrorCode;
use lockstep_contract::validate::Refusal;

/// An authentication failure.
///
/// [`AuthFailure::code`] is the contract's `ErrorCode` string and stays
/// stable; [`AuthFailure::message`] is for humans. Neither ever contains any
/// part of a presented token. The finer reason (which check failed) is kept
/// in the variant for server-side logs (`Debug`) but is not shown to clients:
/// telling an attacker *why* a forged token failed helps the attacker only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Neither an access token (cookie or `Authorization: Bearer`) nor a
    /// refresh token was presented.
    #[error("{}", self.message())]
    MissingToken,
    /// Bad signature, malformed token, wrong algorithm, a refresh token used
    /// as an access token (or the reverse), or unusable claims.
    #[error("{}", self.message())]
    InvalidToken(InvalidTokenReason),
    /// The token was genuine but has expired (and no valid refresh token
    /// could take over).
    #[error("{}", self.message())]
    TokenExpired,
    /// The handshake's `auth.profileid` is not the token's `profileid`.
    #[error("{}", self.message())]
    ProfileMismatch,
    /// The handshake `auth` object is missing or not
    /// `{ profileid: string, timestamp: number }`.
    #[error("{}", self.message())]
    HandshakeInvalid(HandshakeProblem),
}

impl AuthFailure {
    /// The contract's `ErrorCode` for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "AUTH_MISSING_TOKEN",
            Self::InvalidToken(_) => "AUTH_INVALID_TOKEN",
            Self::TokenExpired => "AUTH_TOKEN_EXPIRED",
            Self::ProfileMismatch => "AUTH_PROFILE_MISMATCH",
            Self::HandshakeInvalid(_) => "AUTH_HANDSHAKE_INVALID",
        }
    }

    /// The contract's refusal for this failure (its code and message).
    pub fn refusal(&self) -> Refusal {
        let code = self.code().parse().unwrap_or(ErrorCode::AuthInvalidToken);
        Refusal::new(code, self.message())
    }

    /// A human-readable explanation that is safe to send to the client.
    pub fn message(&self) -> &'static str {
        match self {
            Self::MissingToken => {
                "authentication required: send the accessToken cookie or an Authorization: Bearer header"
            }
            Self::InvalidToken(_) => "the presented token is not valid",
            Self::TokenExpired => "the token has expired; sign in again",
            Self::ProfileMismatch => "the handshake profileid does not match the token",
            Self::HandshakeInvalid(problem) => problem.message(),
        }
    }
}

/// Which check an invalid token failed. For logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidTokenReason {
    /// Not three base64url parts, or a header/payload that is not JSON.
    Malformed,
    /// The header names an algorithm other than HS256 (including `none`).
    WrongAlgorithm,
    /// The signature does not match the secret.
    BadSignature,
    /// A refresh token where an access token was expected, or the reverse.
    WrongTokenType,
    /// Signed correctly, but required claims are missing, mistyped or empty.
    BadClaims,
    /// Its `nbf` (not before) lies in the future, beyond the clock leeway.
    NotYetValid,
    /// A refresh token whose subject or profile is not the expired access
    /// token's beside it.
    UnpairedRefresh,
}

/// What is wrong with the handshake `auth` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeProblem {
    /// No `auth` object was sent (or it was `null`).
    Missing,
    /// `auth` does not match the contract's `HandshakeAuth`.
    Malformed,
}

impl HandshakeProblem {
    fn message(self) -> &'static str {
        match self {
            Self::Missing => "the handshake auth object { profileid, timestamp } is required",
            Self::Malformed => {
                "the handshake auth must be { profileid: non-empty string, timestamp: number, contractVersion?: string }"
            }
        }
    }
}

impl fmt::Display for InvalidTokenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Malformed => "malformed token",
            Self::WrongAlgorithm => "algorithm other than HS256",
            Self::BadSignature => "signature mismatch",
            Self::WrongTokenType => "wrong token type",
            Self::BadClaims => "missing or unusable claims",
            Self::NotYetValid => "not valid yet (nbf)",
            Self::UnpairedRefresh => "refresh token of another subject or profile",
        };
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_contract_strings() {
        let cases = [
            (AuthFailure::MissingToken, "AUTH_MISSING_TOKEN"),
            (
                AuthFailure::InvalidToken(InvalidTokenReason::BadSignature),
                "AUTH_INVALID_TOKEN",
            ),
            (AuthFailure::TokenExpired, "AUTH_TOKEN_EXPIRED"),
            (AuthFailure::ProfileMismatch, "AUTH_PROFILE_MISMATCH"),
            (
                AuthFailure::HandshakeInvalid(HandshakeProblem::Missing),
                "AUTH_HANDSHAKE_INVALID",
            ),
        ];
        for (failure, code) in cases {
            assert_eq!(failure.code(), code);
            assert_eq!(failure.to_string(), failure.message());
        }
    }

    #[test]
    fn message_does_not_reveal_why_a_token_was_rejected() {
        let forged = AuthFailure::InvalidToken(InvalidTokenReason::BadSignature);
        let malformed = AuthFailure::InvalidToken(InvalidTokenReason::Malformed);
        assert_eq!(forged.message(), malformed.message());
    }
}
