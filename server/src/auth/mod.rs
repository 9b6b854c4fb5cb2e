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

pub use claims::{Claims, IssueError, TokenKind};
pub use client_addr::client_ip;
pub use device::{fingerprint, risk_score};
pub use handshake::{
    AuthenticatedSession, authenticate_handshake, authenticate_request, parse_handshake_auth,
};
pub use secret::{JwtSecret, RECOMMENDED_SECRET_BYTES};
pub use token::TokenVerifier;
