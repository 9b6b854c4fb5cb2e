//! Drives the built `lockstep` binary the way users and the external tests
//! do: `token`, `serve --help` and `migrate`.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

const SECRET: &str = "cli-test-secret-0123456789abcdef";

/// The binary with no `LOCKSTEP_*` variables inherited from the caller's
/// environment, so each test states exactly what it configures.
fn lockstep() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LOCKSTEP_") {
            command.env_remove(name);
        }
    }
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the lockstep binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Decodes with `jsonwebtoken` directly (not Lockstep's verifier), so the
/// test checks the wire format other services rely on.
fn decode(token: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("a valid HS256 token signed with the secret")
    .claims
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn token_prints_a_signed_access_token_with_the_requested_claims() {
    let output = run(lockstep().args([
        "token",
        "--profile-id",
        "profile-42",
        "--username",
        "alice",
        "--ttl",
        "15m",
        "--email",
        "alice@example.test",
        "--displayname",
        "Alice A.",
        "--avatar",
        "https://example.test/a.png",
        "--jwt-secret",
        SECRET,
    ]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let printed = stdout(&output);
    assert_eq!(
        printed.lines().count(),
        1,
        "only the token on stdout: {printed}"
    );

    let claims = decode(printed.trim());
    assert_eq!(
        claims["sub"], "profile-42",
        "sub defaults to the profile id"
    );
    assert_eq!(claims["profileid"], "profile-42");
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["displayname"], "Alice A.");
    assert_eq!(claims["avatar"], "https://example.test/a.png");
    assert!(claims.get("typ").is_none(), "access tokens carry no typ");
    let exp = claims["exp"].as_i64().expect("numeric exp");
    let expected = now_secs() + 15 * 60;
    assert!(
        (expected - 5..=expected + 5).contains(&exp),
        "exp {exp}, expected about {expected}"
    );
}

#[test]
fn token_reads_the_secret_from_the_environment_and_mints_refresh_tokens() {
    let output = run(lockstep().env("LOCKSTEP_JWT_SECRET", SECRET).args([
        "token",
        "--profile-id=p1",
        "--username=bob",
        "--user-id=user-7",
        "--ttl=7d",
        "--refresh",
    ]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let claims = decode(stdout(&output).trim());
    assert_eq!(claims["sub"], "user-7");
    assert_eq!(claims["typ"], "refresh");
    let exp = claims["exp"].as_i64().expect("numeric exp");
    assert!(exp > now_secs() + 7 * 86_400 - 10);
}

#[test]
fn token_without_a_secret_fails_clearly() {
    let output = run(lockstep().args(["token", "--profile-id=p1", "--username=bob"]));
    assert!(!output.status.success());
    assert!(stdout(&output).is_empty());
    let message = stderr(&output);
    assert!(message.contains("LOCKSTEP_JWT_SECRET"), "{message}");
    assert!(message.contains("--jwt-secret"), "{message}");
}

#[test]
fn token_rejects_a_bad_ttl() {
    let output = run(lockstep().args([
        "token",
        "--profile-id=p1",
        "--username=bob",
        "--ttl=forever",
        "--jwt-secret",
        SECRET,
    ]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--ttl"), "{}", stderr(&output));
}

#[test]
fn serve_help_documents_every_flag_and_its_environment_variable() {
    let output = run(lockstep()
        .env("LOCKSTEP_JWT_SECRET", "do-not-print-me")
        .env("LOCKSTEP_DATABASE_URL", "postgres://u:db-password@h/d")
        .args(["serve", "--help"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let help = stdout(&output);
    let flags_and_defaults = [
        ("--bind", Some("127.0.0.1:3000")),
        ("--database-url", Some("sqlite://lockstep.db")),
        ("--redis-url", None),
        ("--jwt-secret", None),
        ("--call-ring-timeout", Some("60")),
        ("--max-sockets-per-user", Some("10")),
        ("--max-connections-per-minute", Some("600")),
        ("--call-max-duration", Some("10800")),
        ("--offline-queue-cap", Some("25")),
        ("--max-message-bytes", Some("10240")),
        ("--message-rate", Some("10")),
        ("--call-rate", Some("5")),
        ("--legacy-events", Some("true")),
        ("--typing-timeout", Some("5")),
        ("--log-format", Some("text")),
        ("--shutdown-grace", Some("10")),
        ("--trust-proxy", Some("false")),
        ("--heartbeat-interval", Some("25")),
        ("--heartbeat-max-misses", Some("3")),
        ("--allowed-origins", None),
        ("--config", None),
        ("--max-connections", Some("20000")),
        ("--max-connections-per-address", Some("256")),
        ("--header-read-timeout", Some("10")),
        ("--connect-timeout", Some("10")),
        ("--max-send-buffer-bytes", Some("2097152")),
        ("--wire-debug", Some("false")),
    ];
    for (flag, default) in flags_and_defaults {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
        let env = format!(
            "LOCKSTEP_{}",
            flag.trim_start_matches("--")
                .replace('-', "_")
                .to_uppercase()
        );
        assert!(help.contains(&env), "{env} missing from:\n{help}");
        if let Some(default) = default {
            assert!(
                help.contains(&format!("[default: {default}]")),
                "default {default} of {flag} missing from:\n{help}"
            );
        }
    }
    // Every `--flag` in the help is one we expect (plus clap's own).
    let documented: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .collect();
    for flag in documented {
        assert!(
            flag == "--help" || flags_and_defaults.iter().any(|(known, _)| *known == flag),
            "undocumented flag {flag}"
        );
    }
    for secret in ["do-not-print-me", "db-password"] {
        assert!(!help.contains(secret), "--help leaked {secret}");
    }
}

#[test]
fn top_level_help_lists_the_subcommands() {
    let output = run(lockstep().arg("--help"));
    assert!(output.status.success());
    let help = stdout(&output);
    for command in ["serve", "token", "migrate"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn migrate_creates_the_sqlite_database_and_can_run_twice() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("lockstep-test.db");
    let url = format!("sqlite://{}", path.display());
    for attempt in ["first", "second"] {
        let output = run(lockstep().args(["migrate", "--database-url", &url]));
        assert!(
            output.status.success(),
            "{attempt} migrate failed: {}{}",
            stdout(&output),
            stderr(&output)
        );
    }
    let metadata = std::fs::metadata(&path).expect("the database file exists");
    assert!(metadata.len() > 0, "the database file is empty");
}

#[test]
fn migrate_reads_the_database_url_from_the_environment() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("from-env.db");
    let output = run(lockstep()
        .env(
            "LOCKSTEP_DATABASE_URL",
            format!("sqlite://{}", path.display()),
        )
        .arg("migrate"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(path.exists());
}

#[test]
fn migrate_reports_an_unusable_database_without_echoing_the_password() {
    let output = run(lockstep().args([
        "migrate",
        "--database-url",
        "mysql://user:hunter2@localhost/db",
    ]));
    assert!(!output.status.success());
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!all.contains("hunter2"), "{all}");
}
