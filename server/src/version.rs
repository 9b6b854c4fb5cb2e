//! What `lockstep --version` prints: the server's own version and the
//! contract version it implements, which is what decides which clients it
//! serves (see `auth::contract_version`).

use std::sync::LazyLock;

/// `0.1.0 (contract 3.1.0)`; clap prefixes the binary's name.
pub static VERSION_TEXT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} (contract {})",
        env!("CARGO_PKG_VERSION"),
        lockstep_contract::CONTRACT_VERSION
    )
});
