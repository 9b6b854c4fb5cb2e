//! The versions the server reports: its own (this crate's) and the
//! contract's (the `lockstep-contract` crate generated from the manifest's
//! `version`), for the start-up line and `GET /`.

use std::sync::LazyLock;

/// This server's version.
pub const SERVER: &str = env!("CARGO_PKG_VERSION");

/// The generated contract crate's manifest; codegen writes the contract's
/// `version` there.
const CONTRACT_CRATE_MANIFEST: &str = include_str!("../../generated/rust/Cargo.toml");

static CONTRACT: LazyLock<String> = LazyLock::new(|| {
    CONTRACT_CRATE_MANIFEST
        .parse::<toml::Table>()
        .ok()
        .and_then(|manifest| {
            manifest
                .get("package")?
                .get("version")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
});

/// The contract version this server implements (e.g. `3.0.0`).
pub fn contract() -> &'static str {
    &CONTRACT
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_version_is_the_manifests() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../../contract/manifest.json")).expect("manifest");
        assert_eq!(
            manifest["version"].as_str(),
            Some(super::contract()),
            "the generated crate's version is the contract manifest's"
        );
    }
}
