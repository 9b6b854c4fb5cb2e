//! The shared HS256 secret, wrapped so that it cannot leak through `Debug`
//! or logs by accident.

use std::fmt;

/// Recommended minimum HS256 key size (RFC 7518 §3.2: a key at least as
/// long as the hash output, 256 bits).
pub const RECOMMENDED_SECRET_BYTES: usize = 32;

/// The secret that signs and verifies every token.
///
/// `Debug` prints a placeholder: configuration structs that hold a secret can
/// derive or print `Debug` (in logs, panics, test failures) without exposing it.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret(String);

impl JwtSecret {
    /// Wraps a configured secret. Refuses an empty one: HMAC with an empty key
    /// would accept tokens that anyone can forge.
    pub fn new(secret: impl Into<String>) -> Result<Self, EmptySecret> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(EmptySecret);
        }
        Ok(Self(secret))
    }

    /// A fresh random secret for development mode: 32 bytes from the
    /// operating-system-seeded CSPRNG, hex-encoded so it can be printed and
    /// pasted into `LOCKSTEP_JWT_SECRET` as is.
    pub fn generate() -> Self {
        let bytes: [u8; RECOMMENDED_SECRET_BYTES] = rand::random();
        Self(hex::encode(bytes))
    }

    /// The raw key bytes. Named so that every place that exposes the secret
    /// is easy to find.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret as text, for the one place that must print it: the
    /// development-mode banner.
    pub fn expose_str(&self) -> &str {
        &self.0
    }

    /// Whether the secret is shorter than RFC 7518 recommends for HS256.
    pub fn is_weak(&self) -> bool {
        self.0.len() < RECOMMENDED_SECRET_BYTES
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// Returned by [`JwtSecret::new`] for an empty secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the JWT secret must not be empty")]
pub struct EmptySecret;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let secret = JwtSecret::new("super-secret-value").expect("non-empty");
        let printed = format!("{secret:?}");
        assert!(!printed.contains("super-secret-value"), "{printed}");
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(JwtSecret::new(""), Err(EmptySecret));
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let first = JwtSecret::generate();
        let second = JwtSecret::generate();
        assert_eq!(first.expose_str().len(), 2 * RECOMMENDED_SECRET_BYTES);
        assert!(!first.is_weak());
        assert_ne!(first, second);
    }
}
