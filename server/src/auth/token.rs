//! Signing and verifying Lockstep's HS256 tokens.

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use super::claims::Claims;
use super::failure::{AuthFailure, InvalidTokenReason};
use super::secret::JwtSecret;

/// Clock skew tolerated between the token issuer and this server. Kept small:
/// every second of leeway is a second an expired token still works.
pub const EXPIRY_LEEWAY_SECS: u64 = 5;

/// The only algorithm Lockstep signs with or accepts. Pinning it closes the
/// classic `alg: none` and algorithm-confusion attacks.
const ALGORITHM: Algorithm = Algorithm::HS256;

/// Verifies (and, for the `token` command and tests, mints) tokens with the
/// server's shared secret.
///
/// Expiry is checked here against a caller-supplied `now` rather than by
/// `jsonwebtoken`'s own clock, so that "expired" can be told apart from
/// "invalid" (the handshake falls back to the refresh token only for the
/// former) and so that tests can pin time.
#[derive(Clone)]
pub struct TokenVerifier {
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    validation: Validation,
}

/// Minting failed (the claims could not be serialised or signed).
#[derive(Debug, thiserror::Error)]
#[error("could not sign the token: {0}")]
pub struct MintError(#[from] jsonwebtoken::errors::Error);

/// Which kind of token a caller expects; a token of the other kind is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpectedType {
    Access,
    Refresh,
}

impl TokenVerifier {
    pub fn new(secret: &JwtSecret) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        // `exp` must be present; its value is checked by `check_expiry`.
        validation.required_spec_claims = HashSet::from(["exp".to_owned()]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // Lockstep's tokens carry no audience; do not reject tokens from
        // issuers that add one.
        validation.validate_aud = false;
        Self {
            encoding_key: EncodingKey::from_secret(secret.expose_bytes()),
            decoding_key: DecodingKey::from_secret(secret.expose_bytes()),
            validation,
        }
    }

    /// Signs `claims` with HS256.
    pub fn mint(&self, claims: &Claims) -> Result<String, MintError> {
        Ok(jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            claims,
            &self.encoding_key,
        )?)
    }

    #[cfg(test)]
    /// Verifies an access token as of `now`. A refresh token is refused.
    pub fn verify_access_at(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, AuthFailure> {
        self.verify(token, ExpectedType::Access, now)
    }

    /// Verifies a refresh token as of `now`. An access token is refused.
    pub fn verify_refresh_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthFailure> {
        self.verify(token, ExpectedType::Refresh, now)
    }

    /// Verifies an access token as of `now`, telling a genuine but expired
    /// one apart: `Ok((claims, true))`. A refresh token is honoured only
    /// beside such a token of the same subject and profile, so the caller
    /// needs the expired token's claims to compare.
    pub fn verify_access_or_expired_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Claims, bool), AuthFailure> {
        let claims = self.verify_unexpired(token, ExpectedType::Access, now)?;
        let expired = check_expiry(claims.exp, now).is_err();
        Ok((claims, expired))
    }

    /// Checks, in this order: shape and algorithm, signature, claims, token
    /// type, `nbf`, expiry. Expiry comes last so that `TokenExpired` always
    /// means "genuine token of the right kind, only too old".
    fn verify(
        &self,
        token: &str,
        expected: ExpectedType,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthFailure> {
        let claims = self.verify_unexpired(token, expected, now)?;
        check_expiry(claims.exp, now)?;
        Ok(claims)
    }

    /// Every check of [`Self::verify`] but expiry.
    fn verify_unexpired(
        &self,
        token: &str,
        expected: ExpectedType,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthFailure> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid(InvalidTokenReason::Malformed))?;
        if header.alg != ALGORITHM {
            return Err(invalid(InvalidTokenReason::WrongAlgorithm));
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding_key, &self.validation)
            .map_err(|error| invalid(classify(error.kind())))?
            .claims;
        if claims.sub.is_empty() || claims.profileid.is_empty() || claims.expires_at().is_none() {
            return Err(invalid(InvalidTokenReason::BadClaims));
        }
        let right_type = match expected {
            ExpectedType::Access => claims.is_access(),
            ExpectedType::Refresh => claims.is_refresh(),
        };
        if !right_type {
            return Err(invalid(InvalidTokenReason::WrongTokenType));
        }
        check_not_before(claims.nbf, now)?;
        Ok(claims)
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithm", &ALGORITHM)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn invalid(reason: InvalidTokenReason) -> AuthFailure {
    AuthFailure::InvalidToken(reason)
}

/// A token with `nbf` is usable from `nbf - EXPIRY_LEEWAY_SECS` on (the
/// same clock skew as for `exp`); before that it is invalid, not expired: a
/// refresh token cannot rescue it.
fn check_not_before(nbf: Option<u64>, now: DateTime<Utc>) -> Result<(), AuthFailure> {
    let now_secs = u64::try_from(now.timestamp()).unwrap_or(0);
    match nbf {
        Some(nbf) if now_secs.saturating_add(EXPIRY_LEEWAY_SECS) < nbf => {
            Err(invalid(InvalidTokenReason::NotYetValid))
        }
        _ => Ok(()),
    }
}

/// A token is usable up to and including `exp + EXPIRY_LEEWAY_SECS`.
fn check_expiry(exp: u64, now: DateTime<Utc>) -> Result<(), AuthFailure> {
    let now_secs = u64::try_from(now.timestamp()).unwrap_or(0);
    if now_secs > exp.saturating_add(EXPIRY_LEEWAY_SECS) {
        return Err(AuthFailure::TokenExpired);
    }
    Ok(())
}

/// Maps a `jsonwebtoken` error (raised after the header was read) to the
/// reason we log.
fn classify(kind: &ErrorKind) -> InvalidTokenReason {
    match kind {
        ErrorKind::InvalidSignature => InvalidTokenReason::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => InvalidTokenReason::WrongAlgorithm,
        // The header already decoded, so JSON errors concern the claims.
        ErrorKind::Json(_)
        | ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::InvalidClaimFormat(_) => InvalidTokenReason::BadClaims,
        _ => InvalidTokenReason::Malformed,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::claims::REFRESH_TOKEN_TYPE;

    pub(crate) const NOW: i64 = 1_800_000_000;

    pub(crate) fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).expect("valid timestamp")
    }

    pub(crate) fn verifier() -> TokenVerifier {
        TokenVerifier::new(
            &JwtSecret::new("unit-test-secret-of-at-least-32-bytes").expect("non-empty"),
        )
    }

    pub(crate) fn claims_expiring_at(exp: i64) -> Claims {
        Claims {
            sub: "user-1".into(),
            profileid: "profile-1".into(),
            username: "alice".into(),
            exp: u64::try_from(exp).expect("positive"),
            iat: Some(u64::try_from(NOW - 60).expect("positive")),
            nbf: None,
            email: Some("alice@example.test".into()),
            displayname: Some("Alice".into()),
            avatar: None,
            permissions: None,
            typ: None,
        }
    }

    pub(crate) fn access_token(exp: i64) -> String {
        verifier().mint(&claims_expiring_at(exp)).expect("mint")
    }

    pub(crate) fn refresh_token(exp: i64) -> String {
        let mut claims = claims_expiring_at(exp);
        claims.typ = Some(REFRESH_TOKEN_TYPE.into());
        verifier().mint(&claims).expect("mint")
    }

    /// Base64url without padding, enough to hand-craft hostile tokens.
    fn b64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    #[test]
    fn round_trip_of_an_access_token() {
        let claims = claims_expiring_at(NOW + 3600);
        let token = verifier().mint(&claims).expect("mint");
        assert_eq!(verifier().verify_access_at(&token, now()), Ok(claims));
    }

    #[test]
    fn expiry_allows_only_the_small_leeway() {
        let token = access_token(NOW - 5);
        assert!(verifier().verify_access_at(&token, now()).is_ok());
        let token = access_token(NOW - 6);
        assert_eq!(
            verifier().verify_access_at(&token, now()),
            Err(AuthFailure::TokenExpired)
        );
    }

    #[test]
    fn not_before_allows_only_the_small_leeway() {
        let mut claims = claims_expiring_at(NOW + 3600);
        claims.nbf = Some(u64::try_from(NOW + 5).expect("positive"));
        let token = verifier().mint(&claims).expect("mint");
        assert!(verifier().verify_access_at(&token, now()).is_ok());
        claims.nbf = Some(u64::try_from(NOW + 6).expect("positive"));
        let token = verifier().mint(&claims).expect("mint");
        assert_eq!(
            verifier().verify_access_at(&token, now()),
            Err(AuthFailure::InvalidToken(InvalidTokenReason::NotYetValid))
        );
        claims.typ = Some(REFRESH_TOKEN_TYPE.into());
        let token = verifier().mint(&claims).expect("mint");
        assert_eq!(
            verifier().verify_refresh_at(&token, now()),
            Err(AuthFailure::InvalidToken(InvalidTokenReason::NotYetValid))
        );
    }

    #[test]
    fn an_expired_access_token_is_told_apart_with_its_claims() {
        let token = access_token(NOW - 600);
        let (claims, expired) = verifier()
            .verify_access_or_expired_at(&token, now())
            .expect("genuine");
        assert!(expired);
        assert_eq!(claims.profileid, "profile-1");
        let token = access_token(NOW + 600);
        let (_, expired) = verifier()
            .verify_access_or_expired_at(&token, now())
            .expect("genuine");
        assert!(!expired);
    }

    #[test]
    fn refresh_token_is_refused_as_access_token() {
        let token = refresh_token(NOW + 3600);
        assert_eq!(
            verifier().verify_access_at(&token, now()),
            Err(AuthFailure::InvalidToken(
                InvalidTokenReason::WrongTokenType
            ))
        );
        assert!(verifier().verify_refresh_at(&token, now()).is_ok());
    }

    #[test]
    fn access_token_is_refused_as_refresh_token() {
        let token = access_token(NOW + 3600);
        assert_eq!(
            verifier().verify_refresh_at(&token, now()),
            Err(AuthFailure::InvalidToken(
                InvalidTokenReason::WrongTokenType
            ))
        );
    }

    #[test]
    fn expired_refresh_token_used_as_access_is_invalid_not_expired() {
        let token = refresh_token(NOW - 3600);
        assert_eq!(
            verifier().verify_access_at(&token, now()),
            Err(AuthFailure::InvalidToken(
                InvalidTokenReason::WrongTokenType
            ))
        );
    }

    #[test]
    fn forged_signature_is_refused() {
        let other = TokenVerifier::new(
            &JwtSecret::new("another-secret-entirely-0123456789").expect("non-empty"),
        );
        let forged = other.mint(&claims_expiring_at(NOW + 3600)).expect("mint");
        assert_eq!(
            verifier().verify_access_at(&forged, now()),
            Err(AuthFailure::InvalidToken(InvalidTokenReason::BadSignature))
        );
    }

    #[test]
    fn tampered_payload_is_refused() {
        let token = access_token(NOW + 3600);
        let mut parts: Vec<&str> = token.split('.').collect();
        let payload = b64url(
            serde_json::to_string(&claims_expiring_at(NOW + 999_999))
                .expect("json")
                .as_bytes(),
        );
        parts[1] = &payload;
        let tampered = parts.join(".");
        assert_eq!(
            verifier().verify_access_at(&tampered, now()),
            Err(AuthFailure::InvalidToken(InvalidTokenReason::BadSignature))
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64url(
            serde_json::to_string(&claims_expiring_at(NOW + 3600))
                .expect("json")
                .as_bytes(),
        );
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            let result = verifier().verify_access_at(&token, now());
            assert!(
                matches!(result, Err(AuthFailure::InvalidToken(_))),
                "{result:?}"
            );
        }
    }

    #[test]
    fn other_hmac_algorithms_are_refused() {
        let secret = JwtSecret::new("unit-test-secret-of-at-least-32-bytes").expect("non-empty");
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims_expiring_at(NOW + 3600),
            &EncodingKey::from_secret(secret.expose_bytes()),
        )
        .expect("mint");
        assert_eq!(
            verifier().verify_access_at(&token, now()),
            Err(AuthFailure::InvalidToken(
                InvalidTokenReason::WrongAlgorithm
            ))
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for token in ["", "abc", "a.b.c", "..", "🦀.🦀.🦀"] {
            assert_eq!(
                verifier().verify_access_at(token, now()),
                Err(AuthFailure::InvalidToken(InvalidTokenReason::Malformed)),
                "{token:?}"
            );
        }
    }

    #[test]
    fn missing_required_claims_are_refused() {
        let token = jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &serde_json::json!({"sub": "u", "profileid": "p", "exp": NOW + 3600}),
            &EncodingKey::from_secret(b"unit-test-secret-of-at-least-32-bytes"),
        )
        .expect("mint");
        assert_eq!(
            verifier().verify_access_at(&token, now()),
            Err(AuthFailure::InvalidToken(InvalidTokenReason::BadClaims))
        );
        let token = jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &serde_json::json!({"sub": "u", "profileid": "p", "username": "a"}),
            &EncodingKey::from_secret(b"unit-test-secret-of-at-least-32-bytes"),
        )
        .expect("mint");
        assert_eq!(
            verifier().verify_access_at(&token, now()),
            Err(AuthFailure::InvalidToken(InvalidTokenReason::BadClaims))
        );
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let printed = format!("{:?}", verifier());
        assert!(!printed.contains("unit-test-secret"), "{printed}");
    }
}
