//! Authentication: Lockstep's JWTs, the Socket.IO handshake and REST request
//! checks, and the device fingerprint and risk score shown to clients.
//!
//! Everything here is a pure function of its inputs (headers, the handshake
//! `auth` value, the time), so the rules are tested without sockets; the
//! application wires them into socketioxide's connect middleware and axum's
//! extractors.

mod claims;
mod client_addr;
pub mod contract_version;
mod device;
mod failure;
mod handshake;
mod secret;
mod token;

pub use claims::{ACCESS_TOKEN_TYPE, Claims, IssueError, REFRESH_TOKEN_TYPE, TokenKind};
pub use client_addr::{client_ip, peer_ip};
pub use device::{RISK_NEW_DEVICE, RISK_NO_USER_AGENT, RISK_REFRESHED, fingerprint, risk_score};
pub use failure::{AuthFailure, HandshakeProblem, InvalidTokenReason};
pub use handshake::{
    ACCESS_TOKEN_COOKIE, AuthenticatedSession, HandshakeAuth, PresentedTokens,
    REFRESH_TOKEN_COOKIE, authenticate_handshake, authenticate_request, authenticate_tokens,
    bearer_token, cookie_value, parse_handshake_auth,
};
pub use secret::{EmptySecret, JwtSecret, RECOMMENDED_SECRET_BYTES};
pub use token::{EXPIRY_LEEWAY_SECS, MintError, TokenVerifier};
