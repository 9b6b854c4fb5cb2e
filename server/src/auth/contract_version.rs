//! Contract version negotiation at the handshake.
//!
//! A client may send the contract version it was built against as
//! `contractVersion` in the handshake `auth`; the server answers with its own
//! in `authenticated.contractVersion`. The server serves every client of the
//! majors from [`OLDEST_SERVED_MAJOR`] to its own contract's: within a major, every change is compatible
//! (`cargo xtask contract check` enforces that), so a 3.0 client talks to a
//! 3.1 server, and a 3.2 client to a 3.1 server too (it may hear
//! `UNKNOWN_EVENT` for events newer than the server). A client of a newer
//! major, or of a major no longer served, is refused with
//! `CONTRACT_INCOMPATIBLE` before anything else happens. A client that sends
//! no version (the seed's clients) is served as the current major.

use std::sync::LazyLock;

use lockstep_contract::CONTRACT_VERSION;
use lockstep_contract::types::HandshakeAuth;
use semver::Version;

/// The contract version this server implements.
pub static SERVER_CONTRACT: LazyLock<Version> = LazyLock::new(|| {
    Version::parse(CONTRACT_VERSION).expect("the contract's version is semver (codegen checks it)")
});

/// The oldest contract major this server still serves. Raise it (and note
/// it in the changelog) when a major is dropped; the metric
/// `lockstep_connections_by_contract_total` says when nobody uses it.
pub const OLDEST_SERVED_MAJOR: u64 = 3;

/// The majors this server serves, oldest first.
pub fn served_majors() -> std::ops::RangeInclusive<u64> {
    OLDEST_SERVED_MAJOR..=SERVER_CONTRACT.major
}

/// The served majors in words, for messages: `3.x` or `2.x to 3.x`, with the
/// exact version implemented.
pub fn served_description() -> String {
    let majors = served_majors();
    let range = if majors.start() == majors.end() {
        format!("{}.x", majors.start())
    } else {
        format!("{}.x to {}.x", majors.start(), majors.end())
    };
    format!("{range} (it implements {})", *SERVER_CONTRACT)
}

/// The client's contract, as far as the server cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientContract {
    /// The client sent no `contractVersion`: served as the current major.
    Unstated,
    /// A served version.
    Served(Version),
}

impl ClientContract {
    /// A bounded metric label: `none`; `MAJOR.MINOR` for the current major
    /// up to this server's minor, `MAJOR.newer` beyond it; `MAJOR.x` for an
    /// older served major. Client-chosen text must not create unbounded
    /// label values.
    pub fn metric_label(&self) -> String {
        match self {
            Self::Unstated => "none".into(),
            Self::Served(v) if v.major != SERVER_CONTRACT.major => format!("{}.x", v.major),
            Self::Served(v) if v.minor > SERVER_CONTRACT.minor => format!("{}.newer", v.major),
            Self::Served(v) => format!("{}.{}", v.major, v.minor),
        }
    }
}

/// The `contract` labels a fresh server reports at zero: clients that state
/// no version, and clients of the server's own contract.
pub fn labels_at_start() -> [String; 2] {
    [
        ClientContract::Unstated.metric_label(),
        ClientContract::Served(SERVER_CONTRACT.clone()).metric_label(),
    ]
}

/// Why a client's contract is not served: the message for `auth_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContractIncompatible(pub String);

/// Decides whether the client's stated contract version is served.
pub fn negotiate(auth: &HandshakeAuth) -> Result<ClientContract, ContractIncompatible> {
    let Some(stated) = auth.contract_version.as_ref() else {
        return Ok(ClientContract::Unstated);
    };
    let stated = stated.as_str();
    let served = served_description();
    let version = Version::parse(stated.trim()).map_err(|_| {
        ContractIncompatible(format!(
            "contractVersion `{stated}` is not a semantic version (MAJOR.MINOR.PATCH); this server serves contract {served}"
        ))
    })?;
    if version.major > SERVER_CONTRACT.major {
        return Err(ContractIncompatible(format!(
            "the client's contract {version} is of a newer major than this server's; this server serves contract {served}: use a client built for one of those, or upgrade the server"
        )));
    }
    if version.major < OLDEST_SERVED_MAJOR {
        return Err(ContractIncompatible(format!(
            "the client's contract {version} is of a major this server no longer serves; this server serves contract {served}: upgrade the client"
        )));
    }
    Ok(ClientContract::Served(version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn auth(version: Option<&str>) -> HandshakeAuth {
        let mut value = json!({"profileid": "p-1", "timestamp": 1});
        if let Some(version) = version {
            value["contractVersion"] = json!(version);
        }
        lockstep_contract::validate::handshake_auth(value).expect("valid handshake auth")
    }

    fn current() -> &'static Version {
        &SERVER_CONTRACT
    }

    #[test]
    fn no_version_is_served_as_the_current_major() {
        assert_eq!(negotiate(&auth(None)), Ok(ClientContract::Unstated));
        assert_eq!(ClientContract::Unstated.metric_label(), "none");
    }

    #[test]
    fn every_version_of_a_served_major_is_served() {
        let major = current().major;
        for stated in [
            format!("{major}.0.0"),
            current().to_string(),
            format!("{major}.{}.7", current().minor + 5),
        ] {
            let negotiated = negotiate(&auth(Some(&stated)));
            assert!(
                matches!(negotiated, Ok(ClientContract::Served(_))),
                "{stated}: {negotiated:?}"
            );
        }
    }

    #[test]
    fn a_newer_major_is_refused_naming_the_served_versions() {
        let stated = format!("{}.0.0", current().major + 1);
        let refusal = negotiate(&auth(Some(&stated))).unwrap_err();
        assert!(refusal.0.contains("newer major"), "{refusal}");
        assert!(
            refusal.0.contains(&format!("{}.x", current().major)),
            "{refusal}"
        );
        assert!(refusal.0.contains(&current().to_string()), "{refusal}");
    }

    #[test]
    fn a_major_no_longer_served_is_refused() {
        let refusal = negotiate(&auth(Some("2.9.0"))).unwrap_err();
        assert!(refusal.0.contains("no longer serves"), "{refusal}");
        assert!(
            refusal.0.contains(&format!("{OLDEST_SERVED_MAJOR}.x")),
            "{refusal}"
        );
    }

    #[test]
    fn a_version_that_is_not_semver_is_refused() {
        for stated in ["three", "3", "3.1", "v3.1.0"] {
            let refusal = negotiate(&auth(Some(stated))).unwrap_err();
            assert!(
                refusal.0.contains("not a semantic version"),
                "{stated}: {refusal}"
            );
        }
    }

    #[test]
    fn metric_labels_are_bounded() {
        let major = current().major;
        let label = |v: &str| negotiate(&auth(Some(v))).unwrap().metric_label();
        assert_eq!(label(&format!("{major}.0.3")), format!("{major}.0"));
        assert_eq!(
            label(&current().to_string()),
            format!("{major}.{}", current().minor)
        );
        assert_eq!(label(&format!("{major}.99999.0")), format!("{major}.newer"));
    }
}
