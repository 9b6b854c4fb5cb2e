//! Contract evolution: released snapshots, the breaking-change check and the
//! contract changelog.
//!
//! A *snapshot* is one contract in one JSON document: the manifest and the
//! REST routes (`rest.json`) as written and every schema definition bundled
//! under `$defs` with file-local refs (`#/$defs/Name`). Released contracts are kept as snapshots under
//! `contract/releases/VERSION.json`, so comparing with a release needs no git
//! history.
//!
//! Everything here works on plain JSON (`serde_json::Value`), not on the
//! typed [`crate::manifest::Manifest`]: an old release or another branch may
//! have a manifest layout this build's types no longer read, and the check
//! must still compare it. It knows the manifest's events (name, direction,
//! payload, ack, limits, aliases, deprecation), the handshake and the ack
//! failure schema, and the REST routes; any other section is compared
//! conservatively (see [`diff`]).

pub mod changelog;
pub mod diff;
pub mod report;
pub mod snapshot;

pub use diff::{Change, Flow, Impact, diff};
pub use report::{Bump, Report};
pub use snapshot::{Snapshot, SnapshotError};

/// The directory, relative to the contract directory, that holds released
/// snapshots.
pub const RELEASES_DIR: &str = "releases";
