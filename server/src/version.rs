//! The versions the server reports: its own (this crate's) and the contract
//! version it implements (generated from the manifest's `version`), for
//! `lockstep --version`, the start-up line and `GET /`. The contract version
//! is also what decides which clients it serves (see
//! `auth::contract_version`).

use std::sync::LazyLock;

/// This server's version.
pub const SERVER: &str = env!("CARGO_PKG_VERSION");

/// The contract version this server implements (e.g. `3.1.0`).
pub fn contract() -> &'static str {
    lockstep_contract::CONTRACT_VERSION
}

/// `0.1.0 (contract 3.1.0)`; clap prefixes the binary's name.
pub static VERSION_TEXT: LazyLock<String> =
    LazyLock::new(|| format!("{SERVER} (contract {})", contract()));

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_version_is_the_manifests() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../../contract/manifest.json")).expect("manifest");
        assert_eq!(manifest["version"].as_str(), Some(super::contract()));
    }
}
