//! URLs with credentials (the database's, Redis's) as they may be shown:
//! in logs, in `Debug` of the configuration, in start-up failures.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// A URL that may hold a password (the database's, Redis's). `Debug` and
/// `Display` show it with the password as `***`, so a configuration can be
/// logged whole; [`Deref`] gives the URL itself, to connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
}

impl Deref for SecretUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url_password(&self.0), f)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url_password(&self.0))
    }
}

impl PartialEq<str> for SecretUrl {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SecretUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Replaces the password of `scheme://user:password@host…` with `***`.
/// Anything without one is returned unchanged.
pub fn redact_url_password(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return Cow::Borrowed(url);
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |index| scheme_end + index);
    let authority = &url[scheme_end..authority_end];
    let Some(userinfo_end) = authority.rfind('@') else {
        return Cow::Borrowed(url);
    };
    let Some(password_start) = authority[..userinfo_end].find(':') else {
        return Cow::Borrowed(url);
    };
    Cow::Owned(format!(
        "{}***{}",
        &url[..scheme_end + password_start + 1],
        &url[scheme_end + userinfo_end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_redaction_leaves_password_free_urls_alone() {
        for url in [
            "sqlite://lockstep.db",
            "sqlite:///tmp/x.db?mode=rwc",
            "redis://cache:6379",
            "postgres://user@db/x",
            "postgres://db/x?password=not:userinfo@x",
        ] {
            assert_eq!(redact_url_password(url), url);
        }
        assert_eq!(
            redact_url_password("postgres://u:p%40ss@h/d?x=1"),
            "postgres://u:***@h/d?x=1"
        );
    }
}
