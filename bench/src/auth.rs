//! Access tokens, minted here with the server's secret: HS256 JWTs with the
//! claims Lockstep (and the Node.js baseline) read.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    profileid: &'a str,
    username: &'a str,
    exp: u64,
}

/// Mints tokens for benchmark users.
#[derive(Clone)]
pub struct Minter {
    key: EncodingKey,
    exp: u64,
}

impl Minter {
    /// Tokens valid for a day from now.
    pub fn new(secret: &str) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Self {
            key: EncodingKey::from_secret(secret.as_bytes()),
            exp: now + 24 * 3600,
        }
    }

    /// The token of benchmark user `profileid`.
    pub fn token(&self, profileid: &str) -> String {
        let claims = Claims {
            sub: profileid,
            profileid,
            username: profileid,
            exp: self.exp,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .expect("HS256 signing of plain claims cannot fail")
    }
}
