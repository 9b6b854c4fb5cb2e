//! Rebuild when a migration is added: `sqlx::migrate!` embeds the folder,
//! and cargo only watches files it already knows.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
