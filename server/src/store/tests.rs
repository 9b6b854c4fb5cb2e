//! One test suite, run against both backends.
//!
//! Each case is an `async fn(Arc<dyn Store>)`; `store_tests!` runs it twice:
//! `sqlite::<case>` on a fresh file in a temporary directory, and
//! `postgres::<case>` in a fresh database created for that test alone (tests
//! run in parallel) and dropped afterwards.
//!
//! PostgreSQL comes from `LOCKSTEP_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`; the role needs CREATEDB). When
//! it cannot be reached the PostgreSQL cases print one `skipping PostgreSQL
//! store tests: <reason>` line and pass, unless `LOCKSTEP_REQUIRE_POSTGRES=1`
//! (CI), in which case they fail.

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::*;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

// --- harness ---

macro_rules! store_tests {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run_on_sqlite(super::$case).await
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run_on_postgres(super::$case).await
                }
            )+
        }
    };
}

store_tests!(
    ping_and_backend,
    profiles_upsert_and_lookup,
    create_chat_rules,
    direct_chat_is_created_once_under_concurrency,
    participants_and_chat_list,
    chat_partners_and_shared_chat,
    insert_message_is_idempotent,
    concurrent_duplicate_inserts_store_one_row,
    a_refused_message_in_a_batch_refuses_only_itself,
    batched_messages_keep_every_field,
    history_pages_newest_first_with_reactions,
    receipts_report_first_time_only,
    reactions_are_idempotent,
    offline_queue_keeps_newest_within_cap,
    offline_queue_fans_out_and_acks,
    device_trust,
    sessions_store_the_profile_and_device_also_in_a_burst,
    call_records_follow_the_call,
    closed_store_reports_unavailable,
    seq_numbers_each_chat_without_gaps,
    deliveries_by_sync_report_first_time_only,
    delivered_ranges_and_exceptions,
);

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn run_on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = connect(&sqlite_url(&dir.path().join("lockstep.db")))
        .await
        .expect("open SQLite store");
    store.migrate().await.expect("migrate SQLite store");
    case(store.clone()).await;
    store.close().await;
}

async fn run_on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = connect(&database.url).await.expect("open PostgreSQL store");
    store.migrate().await.expect("migrate PostgreSQL store");
    // Run the case in its own task so that a failing assertion still lets us
    // drop the database before the panic is passed on.
    let outcome = tokio::spawn(case(store.clone())).await;
    store.close().await;
    database.drop().await;
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

/// A database of its own for one PostgreSQL test.
pub(super) struct TestDatabase {
    admin: PgConnection,
    pub(super) name: String,
    pub(super) url: String,
}

impl TestDatabase {
    /// Creates `lockstep_t_<ulid>`, or returns `None` (after saying so) when
    /// PostgreSQL is unreachable and not required.
    pub(super) async fn create() -> Option<Self> {
        let admin_url = std::env::var("LOCKSTEP_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let mut admin =
            match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&admin_url))
                .await
            {
                Ok(Ok(connection)) => connection,
                Ok(Err(error)) => return skip_postgres(&error.to_string()),
                Err(_) => return skip_postgres("connection timed out after 10 s"),
            };
        let name = format!(
            "lockstep_t_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        if let Err(error) = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
        {
            return skip_postgres(&format!("cannot create a test database: {error}"));
        }
        let url = PgConnectOptions::from_str(&admin_url)
            .expect("LOCKSTEP_TEST_POSTGRES_URL parses")
            .database(&name)
            .to_url_lossy()
            .to_string();
        Some(TestDatabase { admin, name, url })
    }

    pub(super) async fn drop(mut self) {
        let dropped = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut self.admin)
        .await;
        if let Err(error) = dropped {
            let _ = writeln!(
                std::io::stderr(),
                "could not drop test database {}: {error}",
                self.name
            );
        }
    }
}

fn skip_postgres(reason: &str) -> Option<TestDatabase> {
    if std::env::var("LOCKSTEP_REQUIRE_POSTGRES").is_ok_and(|value| value == "1") {
        panic!("PostgreSQL is required (LOCKSTEP_REQUIRE_POSTGRES=1) but unusable: {reason}");
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        // Written to the real stderr, not through the test harness's output
        // capture, so the skip is visible in a normal `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "skipping PostgreSQL store tests: {reason}"
        );
    });
    None
}

// --- fixtures ---

/// One profile by id, through [`Store::get_profiles`].
async fn get_profile(store: &dyn Store, profileid: &str) -> StoreResult<Option<Profile>> {
    Ok(store.get_profiles(&[profileid.to_owned()]).await?.pop())
}

/// A fixed instant plus `seconds` (whole milliseconds, as the store keeps).
fn at(seconds: i64) -> Timestamp {
    chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("valid base time")
        + TimeDelta::seconds(seconds)
}

fn ids(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

async fn new_chat(
    store: &dyn Store,
    chat_type: ChatType,
    creator: &str,
    participants: &[&str],
) -> CreatedChat {
    store
        .create_chat(&NewChat {
            creator: creator.to_owned(),
            chat_type,
            chat_name: Some(format!("{creator}'s {chat_type}")),
            participants: ids(participants),
            created_at: at(0),
        })
        .await
        .expect("create chat")
}

async fn group(store: &dyn Store, creator: &str, participants: &[&str]) -> String {
    new_chat(store, ChatType::Group, creator, participants)
        .await
        .chat
        .chatid
}

fn text(chatid: &str, senderid: &str, client_message_id: &str, content: &str) -> NewMessage {
    NewMessage {
        chatid: chatid.to_owned(),
        senderid: senderid.to_owned(),
        client_message_id: client_message_id.to_owned(),
        message_type: "text".to_owned(),
        content: content.to_owned(),
        attachments: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
        created_at: at(1),
    }
}

async fn send(store: &dyn Store, chatid: &str, senderid: &str, n: usize) -> StoredMessage {
    let mut message = text(chatid, senderid, &format!("c{n}"), &format!("message {n}"));
    message.created_at = at(i64::try_from(n).expect("small n"));
    store
        .insert_message(&message)
        .await
        .expect("insert message")
        .message
}

// --- cases ---

async fn ping_and_backend(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
    // Migrating again is a no-op.
    store.migrate().await.expect("second migrate");
    assert!(matches!(
        store.backend(),
        Backend::Sqlite | Backend::Postgres
    ));
}

async fn profiles_upsert_and_lookup(store: Arc<dyn Store>) {
    let alice = Profile {
        profileid: "p-alice".into(),
        user_id: "u-alice".into(),
        username: "alice".into(),
        displayname: Some("Alice A.".into()),
        avatar: Some("https://example.test/a.png".into()),
        email: Some("alice@example.test".into()),
        updated_at: at(0),
    };
    store.upsert_profile(&alice).await.expect("insert profile");
    assert_eq!(
        get_profile(&*store, "p-alice").await.expect("get"),
        Some(alice.clone())
    );
    assert_eq!(get_profile(&*store, "p-nobody").await.expect("get"), None);

    // A later token without the optional claims keeps what we knew.
    let refreshed = Profile {
        username: "alice2".into(),
        displayname: None,
        avatar: None,
        email: None,
        updated_at: at(60),
        ..alice.clone()
    };
    store
        .upsert_profile(&refreshed)
        .await
        .expect("update profile");
    let stored = get_profile(&*store, "p-alice")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.username, "alice2");
    assert_eq!(stored.displayname.as_deref(), Some("Alice A."));
    assert_eq!(stored.email.as_deref(), Some("alice@example.test"));
    assert_eq!(stored.updated_at, at(60));

    let bob = Profile {
        profileid: "p-bob".into(),
        user_id: "u-bob".into(),
        username: "bob".into(),
        displayname: None,
        avatar: None,
        email: None,
        updated_at: at(5),
    };
    store.upsert_profile(&bob).await.expect("insert bob");
    let mut found = store
        .get_profiles(&ids(&["p-bob", "p-nobody", "p-alice", "p-bob"]))
        .await
        .expect("get profiles");
    found.sort_by(|a, b| a.profileid.cmp(&b.profileid));
    let names: Vec<&str> = found.iter().map(|p| p.username.as_str()).collect();
    assert_eq!(names, ["alice2", "bob"]);
    assert!(store.get_profiles(&[]).await.expect("empty").is_empty());
}

async fn create_chat_rules(store: Arc<dyn Store>) {
    // Creator listed, a duplicate, and the creator missing from the head.
    let created = new_chat(
        &*store,
        ChatType::Group,
        "alice",
        &["bob", "alice", "bob", "carol"],
    )
    .await;
    assert!(created.created);
    let chat = &created.chat;
    assert_eq!(chat.chat_type, ChatType::Group);
    assert_eq!(chat.chat_name.as_deref(), Some("alice's group"));
    assert_eq!(chat.settings, json!({}));
    assert_eq!(chat.created_by, "alice");
    assert_eq!(chat.created_at, at(0));
    assert_eq!(
        store.get_chat(&chat.chatid).await.expect("get"),
        Some(chat.clone())
    );
    assert_eq!(store.get_chat("no-such-chat").await.expect("get"), None);

    let participants = store
        .list_participants(&chat.chatid)
        .await
        .expect("participants");
    let mut roles: Vec<(String, Role)> = participants
        .into_iter()
        .map(|p| (p.profileid, p.role))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        [
            ("alice".to_owned(), Role::Owner),
            ("bob".to_owned(), Role::Member),
            ("carol".to_owned(), Role::Member),
        ]
    );

    // The creator is added even when left out.
    let channel = new_chat(&*store, ChatType::Channel, "dave", &[]).await.chat;
    assert_eq!(
        store
            .get_participant(&channel.chatid, "dave")
            .await
            .expect("role"),
        Some(Role::Owner)
    );

    // Direct chats: one per pair, whoever opens it.
    let direct = new_chat(&*store, ChatType::Direct, "alice", &["bob"]).await;
    assert!(direct.created);
    let again = new_chat(&*store, ChatType::Direct, "bob", &["alice", "bob"]).await;
    assert!(!again.created);
    assert_eq!(again.chat.chatid, direct.chat.chatid);
    assert_eq!(again.chat.created_by, "alice");

    for participants in [&["bob", "carol"][..], &[][..], &["alice"][..]] {
        let refused = store
            .create_chat(&NewChat {
                creator: "alice".into(),
                chat_type: ChatType::Direct,
                chat_name: None,
                participants: ids(participants),
                created_at: at(0),
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{participants:?}: {refused:?}"
        );
    }
}

async fn direct_chat_is_created_once_under_concurrency(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let (me, other) = if i % 2 == 0 {
                    ("ann", "ben")
                } else {
                    ("ben", "ann")
                };
                new_chat(&*store, ChatType::Direct, me, &[other]).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    assert_eq!(results.iter().filter(|r| r.created).count(), 1);
    let chatid = &results[0].chat.chatid;
    assert!(results.iter().all(|r| &r.chat.chatid == chatid));
    assert_eq!(
        store
            .list_participants(chatid)
            .await
            .expect("participants")
            .len(),
        2
    );
}

async fn participants_and_chat_list(store: Arc<dyn Store>) {
    let older = group(&*store, "alice", &["bob"]).await;
    let newer = group(&*store, "carol", &["alice", "bob", "dave"]).await;
    let quiet = group(&*store, "bob", &["alice"]).await;

    assert!(
        store
            .add_participant(&older, "erin", Role::Admin, at(10))
            .await
            .expect("add")
    );
    // Idempotent, and an existing participant keeps their role.
    assert!(
        !store
            .add_participant(&older, "erin", Role::Member, at(11))
            .await
            .expect("add again")
    );
    assert_eq!(
        store.get_participant(&older, "erin").await.expect("role"),
        Some(Role::Admin)
    );
    assert_eq!(
        store.get_participant(&older, "dave").await.expect("role"),
        None
    );
    assert!(matches!(
        store
            .add_participant("no-such-chat", "erin", Role::Member, at(12))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let joined: Vec<(String, Timestamp)> = store
        .list_participants(&older)
        .await
        .expect("participants")
        .into_iter()
        .map(|p| (p.profileid, p.joined_at))
        .collect();
    assert_eq!(joined.last(), Some(&("erin".to_owned(), at(10))));

    // Activity order: a message makes `older` the most recent.
    send(&*store, &older, "bob", 100).await;
    let list = store.list_chats_for("alice").await.expect("chat list");
    let summary: Vec<(&str, Role, i64)> = list
        .iter()
        .map(|s| (s.chat.chatid.as_str(), s.role, s.participant_count))
        .collect();
    assert_eq!(summary[0], (older.as_str(), Role::Owner, 3));
    assert_eq!(list[0].last_message_at, Some(at(100)));
    let mut rest = summary[1..].to_vec();
    rest.sort();
    let mut expected = vec![
        (newer.as_str(), Role::Member, 4),
        (quiet.as_str(), Role::Member, 2),
    ];
    expected.sort();
    assert_eq!(rest, expected);
    assert!(list[1..].iter().all(|s| s.last_message_at.is_none()));
    assert!(
        store
            .list_chats_for("nobody")
            .await
            .expect("list")
            .is_empty()
    );
}

async fn chat_partners_and_shared_chat(store: Arc<dyn Store>) {
    let team = group(&*store, "alice", &["bob", "carol"]).await;
    let alice_dave = new_chat(&*store, ChatType::Direct, "alice", &["dave"])
        .await
        .chat
        .chatid;
    let alice_bob = new_chat(&*store, ChatType::Direct, "bob", &["alice"])
        .await
        .chat
        .chatid;
    group(&*store, "erin", &[]).await;

    assert_eq!(
        store.chat_partners("alice").await.expect("partners"),
        ["bob", "carol", "dave"]
    );
    assert_eq!(
        store.chat_partners("carol").await.expect("partners"),
        ["alice", "bob"]
    );
    assert!(
        store
            .chat_partners("erin")
            .await
            .expect("partners")
            .is_empty()
    );

    assert_eq!(
        store.shared_chat("alice", "dave").await.expect("shared"),
        Some(alice_dave)
    );
    assert_eq!(
        store.shared_chat("carol", "bob").await.expect("shared"),
        Some(team)
    );
    // In a group and a direct chat together: the direct one wins.
    assert_eq!(
        store.shared_chat("alice", "bob").await.expect("shared"),
        Some(alice_bob)
    );
    assert_eq!(
        store.shared_chat("bob", "dave").await.expect("shared"),
        None
    );
}

async fn insert_message_is_idempotent(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob"]).await;
    let mut first = text(&chatid, "alice", "client-1", "hello");
    first.attachments = vec![json!({
        "type": "image", "url": "https://example.test/cat.png",
        "name": "cat.png", "size": 1234, "mimetype": "image/png"
    })];
    first.mentions = ids(&["bob"]);
    let inserted = store.insert_message(&first).await.expect("insert");
    assert!(inserted.created);
    let stored = inserted.message;
    assert_eq!(stored.chatid, chatid);
    assert_eq!(stored.content, "hello");
    assert_eq!(stored.attachments, first.attachments);
    assert_eq!(stored.mentions, ["bob"]);
    assert_eq!(stored.created_at, at(1));
    assert!(ulid::Ulid::from_string(&stored.messageid).is_ok());

    // A retry, even with other content, returns the stored row unchanged.
    let retry = NewMessage {
        content: "hello (edited)".into(),
        ..first.clone()
    };
    let again = store.insert_message(&retry).await.expect("retry");
    assert!(!again.created);
    assert_eq!(again.message, stored);

    // The key is per sender.
    let bobs = store
        .insert_message(&text(&chatid, "bob", "client-1", "hi"))
        .await
        .expect("bob's message");
    assert!(bobs.created);
    assert_ne!(bobs.message.messageid, stored.messageid);

    let reply = NewMessage {
        reply_to: Some(stored.messageid.clone()),
        ..text(&chatid, "bob", "client-2", "re: hello")
    };
    let reply = store.insert_message(&reply).await.expect("reply").message;
    assert_eq!(reply.reply_to.as_deref(), Some(stored.messageid.as_str()));
    assert_eq!(
        store.get_message(&reply.messageid).await.expect("get"),
        Some(reply.clone())
    );
    assert_eq!(
        store.get_message("no-such-message").await.expect("get"),
        None
    );

    let dangling_reply = NewMessage {
        reply_to: Some("no-such-message".into()),
        ..text(&chatid, "bob", "client-3", "re: ?")
    };
    assert!(matches!(
        store.insert_message(&dangling_reply).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .insert_message(&text("no-such-chat", "bob", "client-4", "?"))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn concurrent_duplicate_inserts_store_one_row(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob"]).await;
    let message = text(&chatid, "alice", "same-client-id", "once");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let message = message.clone();
            tokio::spawn(async move { store.insert_message(&message).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task").expect("insert"));
    }
    assert_eq!(results.iter().filter(|r| r.created).count(), 1);
    let messageid = &results[0].message.messageid;
    assert!(results.iter().all(|r| &r.message.messageid == messageid));
    let page = store.history(&chatid, None, 50).await.expect("history");
    assert_eq!(page.messages.len(), 1);
}

/// Sent at once, the messages share the writer's batches: one whose chat
/// does not exist must be refused alone (SQLite undoes just its statement,
/// PostgreSQL retries the batch message by message), the rest stored once.
async fn a_refused_message_in_a_batch_refuses_only_itself(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob"]).await;
    let tasks: Vec<_> = (0..30)
        .map(|n| {
            let store = store.clone();
            let target = if n == 15 {
                "no-such-chat".to_owned()
            } else {
                chatid.clone()
            };
            let message = text(&target, "alice", &format!("batch-{n}"), "hi");
            tokio::spawn(async move { (n, store.insert_message(&message).await) })
        })
        .collect();
    for task in tasks {
        let (n, result) = task.await.expect("task");
        match result {
            Err(StoreError::NotFound(_)) if n == 15 => {}
            Ok(inserted) if n != 15 => assert!(inserted.created, "message {n} stored"),
            other => panic!("message {n}: unexpected {other:?}"),
        }
    }
    let page = store.history(&chatid, None, 50).await.expect("history");
    assert_eq!(page.messages.len(), 29);
}

/// Sent at once, the messages share the writer's batches (PostgreSQL
/// stores a batch column by column): every field of every message comes
/// back as sent, and retries within the batches return the first row.
async fn batched_messages_keep_every_field(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob", "carol"]).await;
    let original = store
        .insert_message(&text(&chatid, "bob", "original", "to reply to"))
        .await
        .expect("insert")
        .message;
    let message = |n: usize| {
        let mut message = text(
            &chatid,
            "alice",
            &format!("batch-{n}"),
            &format!("m{n} ü ✓"),
        );
        message.created_at = at(i64::try_from(n).expect("small n") + 10);
        if n.is_multiple_of(2) {
            message.message_type = "image".to_owned();
            message.attachments = vec![
                json!({"type": "image", "url": format!("https://example.test/{n}.png"), "size": n}),
            ];
            message.mentions = ids(&["bob", "carol"]);
            message.reply_to = Some(original.messageid.clone());
        }
        message
    };
    // Each message twice: the second of a pair is a retry.
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            let message = message(n / 2);
            tokio::spawn(async move { (n / 2, store.insert_message(&message).await) })
        })
        .collect();
    let mut stored: HashMap<usize, Vec<Inserted>> = HashMap::new();
    for task in tasks {
        let (n, result) = task.await.expect("task");
        stored.entry(n).or_default().push(result.expect("insert"));
    }
    for (n, pair) in &stored {
        assert_eq!(
            pair.iter().filter(|i| i.created).count(),
            1,
            "message {n} created once"
        );
        assert_eq!(
            pair[0].message, pair[1].message,
            "a retry returns the first row"
        );
        let sent = message(*n);
        let row = &pair[0].message;
        assert_eq!(
            (
                &row.chatid,
                &row.senderid,
                &row.client_message_id,
                &row.message_type
            ),
            (
                &sent.chatid,
                &sent.senderid,
                &sent.client_message_id,
                &sent.message_type
            )
        );
        assert_eq!(row.content, sent.content);
        assert_eq!(row.attachments, sent.attachments);
        assert_eq!(row.reply_to, sent.reply_to);
        assert_eq!(row.mentions, sent.mentions);
        assert_eq!(row.created_at, sent.created_at);
        let read_back = store.get_message(&row.messageid).await.expect("get");
        assert_eq!(read_back.as_ref(), Some(row));
    }
    let page = store.history(&chatid, None, 50).await.expect("history");
    assert_eq!(page.messages.len(), 21);
}

async fn history_pages_newest_first_with_reactions(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob"]).await;
    let other_chat = group(&*store, "alice", &["bob"]).await;
    let mut sent = Vec::new();
    for n in 0..7 {
        sent.push(
            send(
                &*store,
                &chatid,
                if n % 2 == 0 { "alice" } else { "bob" },
                n,
            )
            .await,
        );
    }
    let foreign = send(&*store, &other_chat, "alice", 50).await;
    let id = |n: usize| sent[n].messageid.clone();
    let page_ids = |page: &HistoryPage| -> Vec<String> {
        page.messages
            .iter()
            .map(|m| m.message.messageid.clone())
            .collect()
    };

    store
        .add_reaction(&id(5), "bob", "👍", at(20))
        .await
        .expect("react");
    store
        .add_reaction(&id(5), "alice", "❤️", at(21))
        .await
        .expect("react");

    let first = store.history(&chatid, None, 3).await.expect("page 1");
    assert_eq!(page_ids(&first), [id(6), id(5), id(4)]);
    assert!(first.has_more);
    assert_eq!(first.next_before(), Some(id(4).as_str()));
    let reactions: Vec<(&str, &str)> = first.messages[1]
        .reactions
        .iter()
        .map(|r| (r.profileid.as_str(), r.emoji.as_str()))
        .collect();
    assert_eq!(reactions, [("bob", "👍"), ("alice", "❤️")]);
    assert!(first.messages[0].reactions.is_empty());

    let second = store
        .history(&chatid, first.next_before(), 3)
        .await
        .expect("page 2");
    assert_eq!(page_ids(&second), [id(3), id(2), id(1)]);
    assert!(second.has_more);

    let last = store
        .history(&chatid, second.next_before(), 3)
        .await
        .expect("page 3");
    assert_eq!(page_ids(&last), [id(0)]);
    assert!(!last.has_more);
    assert_eq!(last.next_before(), None);

    // Exactly the rest: no phantom "more".
    let exact = store
        .history(&chatid, Some(&id(3)), 3)
        .await
        .expect("exact page");
    assert_eq!(page_ids(&exact), [id(2), id(1), id(0)]);
    assert!(!exact.has_more);

    let everything = store.history(&chatid, None, 100).await.expect("all");
    assert_eq!(everything.messages.len(), 7);
    assert!(!everything.has_more);

    for bad_cursor in ["no-such-message", foreign.messageid.as_str()] {
        assert!(matches!(
            store.history(&chatid, Some(bad_cursor), 3).await,
            Err(StoreError::NotFound(_))
        ));
    }
    let empty = store.history("no-such-chat", None, 3).await.expect("empty");
    assert!(empty.messages.is_empty() && !empty.has_more);
}

async fn receipts_report_first_time_only(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob", "carol"]).await;
    let message = send(&*store, &chatid, "alice", 1).await;
    let messageid = message.messageid.as_str();

    assert!(
        store
            .mark_read(messageid, "bob", at(10))
            .await
            .expect("read")
    );
    assert!(
        !store
            .mark_read(messageid, "bob", at(11))
            .await
            .expect("read again")
    );
    // Reading implied delivery.
    assert!(
        !store
            .mark_delivered(messageid, "bob", at(12))
            .await
            .expect("delivered after read")
    );

    assert!(
        store
            .mark_delivered(messageid, "carol", at(10))
            .await
            .expect("delivered")
    );
    assert!(
        !store
            .mark_delivered(messageid, "carol", at(11))
            .await
            .expect("delivered again")
    );
    assert!(
        store
            .mark_read(messageid, "carol", at(12))
            .await
            .expect("read")
    );
    assert!(
        !store
            .mark_read(messageid, "carol", at(13))
            .await
            .expect("read again")
    );

    assert!(matches!(
        store.mark_read("no-such-message", "bob", at(14)).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn reactions_are_idempotent(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob"]).await;
    let m1 = send(&*store, &chatid, "alice", 1).await.messageid;
    let m2 = send(&*store, &chatid, "alice", 2).await.messageid;
    let m3 = send(&*store, &chatid, "alice", 3).await.messageid;

    assert!(
        store
            .add_reaction(&m1, "bob", "👍", at(10))
            .await
            .expect("add")
    );
    assert!(
        !store
            .add_reaction(&m1, "bob", "👍", at(11))
            .await
            .expect("again")
    );
    assert!(
        store
            .add_reaction(&m1, "bob", "🎉", at(12))
            .await
            .expect("other emoji")
    );
    assert!(
        store
            .add_reaction(&m1, "alice", "👍", at(13))
            .await
            .expect("other user")
    );
    assert!(
        store
            .add_reaction(&m2, "alice", "😂", at(14))
            .await
            .expect("m2")
    );

    let reactions = store
        .reactions_for(&[m1.clone(), m2.clone(), m3.clone(), m1.clone()])
        .await
        .expect("reactions");
    let on_m1: Vec<(&str, &str, Timestamp)> = reactions[&m1]
        .iter()
        .map(|r| (r.profileid.as_str(), r.emoji.as_str(), r.created_at))
        .collect();
    assert_eq!(
        on_m1,
        [
            ("bob", "👍", at(10)),
            ("bob", "🎉", at(12)),
            ("alice", "👍", at(13))
        ]
    );
    assert_eq!(reactions[&m2].len(), 1);
    assert!(!reactions.contains_key(&m3));
    assert!(store.reactions_for(&[]).await.expect("none").is_empty());

    assert!(matches!(
        store
            .add_reaction("no-such-message", "bob", "👍", at(15))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn offline_queue_keeps_newest_within_cap(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob"]).await;
    let mut sent = Vec::new();
    let mut dropped = 0;
    for n in 0..30 {
        let message = send(&*store, &chatid, "alice", n).await;
        let outcome = store
            .enqueue_offline(
                &ids(&["bob"]),
                &message.messageid,
                at(100 + n as i64),
                DEFAULT_OFFLINE_CAP,
            )
            .await
            .expect("enqueue");
        assert_eq!(outcome.queued, 1);
        dropped += outcome.dropped;
        sent.push(message);
    }
    assert_eq!(dropped, 5);

    let queued = store.take_offline("bob").await.expect("take");
    assert_eq!(queued.len(), 25);
    let queued_ids: Vec<&str> = queued
        .iter()
        .map(|q| q.message.messageid.as_str())
        .collect();
    let newest: Vec<&str> = sent[5..].iter().map(|m| m.messageid.as_str()).collect();
    assert_eq!(queued_ids, newest, "oldest dropped, order kept");
    assert!(queued.windows(2).all(|w| w[0].queue_id < w[1].queue_id));
    assert_eq!(queued[0].queued_at, at(105));
    assert_eq!(queued[0].message, sent[5]);

    // Taking does not remove: a crash before delivery loses nothing.
    assert_eq!(
        store.take_offline("bob").await.expect("take again").len(),
        25
    );
    // Dropped from the queue, still in history.
    let history = store.history(&chatid, None, 100).await.expect("history");
    assert_eq!(history.messages.len(), 30);
    assert!(
        store
            .get_message(&sent[0].messageid)
            .await
            .expect("get")
            .is_some()
    );
}

async fn offline_queue_fans_out_and_acks(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob", "carol", "dave"]).await;
    let m1 = send(&*store, &chatid, "alice", 1).await;
    let m2 = send(&*store, &chatid, "alice", 2).await;

    let outcome = store
        .enqueue_offline(
            &ids(&["bob", "carol", "carol", "dave"]),
            &m1.messageid,
            at(10),
            25,
        )
        .await
        .expect("enqueue");
    assert_eq!(
        outcome,
        OfflineEnqueued {
            queued: 3,
            dropped: 0
        }
    );
    // Queuing the same message again is a no-op.
    let again = store
        .enqueue_offline(&ids(&["bob"]), &m1.messageid, at(11), 25)
        .await
        .expect("enqueue again");
    assert_eq!(again.queued, 0);
    store
        .enqueue_offline(&ids(&["carol"]), &m2.messageid, at(12), 25)
        .await
        .expect("enqueue m2");
    assert_eq!(
        store
            .enqueue_offline(&[], &m2.messageid, at(12), 25)
            .await
            .expect("nobody"),
        OfflineEnqueued::default()
    );
    assert!(matches!(
        store
            .enqueue_offline(&ids(&["bob"]), "no-such-message", at(13), 25)
            .await,
        Err(StoreError::NotFound(_))
    ));

    let carols = store.take_offline("carol").await.expect("take");
    let carol_messages: Vec<&str> = carols
        .iter()
        .map(|q| q.message.messageid.as_str())
        .collect();
    assert_eq!(
        carol_messages,
        [m1.messageid.as_str(), m2.messageid.as_str()]
    );

    // Ack the first; someone else's ids are not touched.
    let bobs = store.take_offline("bob").await.expect("take bob");
    assert_eq!(
        store
            .ack_offline("carol", &[carols[0].queue_id, bobs[0].queue_id])
            .await
            .expect("ack"),
        1
    );
    let left: Vec<i64> = store
        .take_offline("carol")
        .await
        .expect("take")
        .iter()
        .map(|q| q.queue_id)
        .collect();
    assert_eq!(left, [carols[1].queue_id]);
    assert_eq!(
        store
            .ack_offline("carol", &[carols[0].queue_id])
            .await
            .expect("re-ack"),
        0
    );
    assert_eq!(store.ack_offline("carol", &[]).await.expect("empty ack"), 0);
    assert_eq!(
        store.take_offline("bob").await.expect("bob intact").len(),
        1
    );
    assert!(
        store
            .take_offline("nobody")
            .await
            .expect("empty")
            .is_empty()
    );
}

async fn call_records_follow_the_call(store: Arc<dyn Store>) {
    let mut call = CallRecord {
        call_id: "call-1".into(),
        caller: "alice".into(),
        callee: "bob".into(),
        call_type: "video".into(),
        chatid: Some("chat-1".into()),
        status: "ringing".into(),
        end_reason: None,
        ended_by: None,
        rung_at: at(0),
        answered_at: None,
        ended_at: None,
        duration_seconds: None,
    };
    assert!(!store.call_exists("call-1").await.expect("exists"));
    store
        .upsert_calls(std::slice::from_ref(&call))
        .await
        .expect("ringing");
    assert!(store.call_exists("call-1").await.expect("exists"));
    call.status = "ended".into();
    call.answered_at = Some(at(5));
    call.ended_at = Some(at(65));
    call.end_reason = Some("user_ended".into());
    call.ended_by = Some("bob".into());
    call.duration_seconds = Some(60);
    store
        .upsert_calls(std::slice::from_ref(&call))
        .await
        .expect("ended");
    let older = CallRecord {
        call_id: "call-0".into(),
        rung_at: at(-100),
        callee: "carol".into(),
        status: "missed".into(),
        ..call.clone()
    };
    store
        .upsert_calls(std::slice::from_ref(&older))
        .await
        .expect("older");

    let alice = store.list_calls("alice", 10).await.expect("list");
    assert_eq!(
        alice,
        vec![call.clone(), older],
        "newest first, one row per call"
    );
    assert_eq!(
        store.list_calls("bob", 10).await.expect("list"),
        vec![call.clone()]
    );
    assert_eq!(store.list_calls("alice", 1).await.expect("list").len(), 1);
    assert!(store.list_calls("dave", 10).await.expect("list").is_empty());

    // Two states of one call in one batch, as the call log writes them:
    // the later one is what is kept.
    let ringing = CallRecord {
        call_id: "call-2".into(),
        status: "ringing".into(),
        rung_at: at(200),
        answered_at: None,
        ended_at: None,
        end_reason: None,
        ended_by: None,
        duration_seconds: None,
        ..call.clone()
    };
    let answered = CallRecord {
        status: "active".into(),
        answered_at: Some(at(205)),
        ..ringing.clone()
    };
    store
        .upsert_calls(&[ringing, answered.clone()])
        .await
        .expect("one batch");
    assert_eq!(
        store.list_calls("alice", 1).await.expect("list"),
        vec![answered]
    );
    store.upsert_calls(&[]).await.expect("an empty batch");
}

async fn device_trust(store: Arc<dyn Store>) {
    let first = store
        .touch_device("alice", "fp-laptop", at(0))
        .await
        .expect("touch");
    assert!(!first.previously_seen);
    assert_eq!(
        (first.seen_count, first.first_seen, first.last_seen),
        (1, at(0), at(0))
    );

    let second = store
        .touch_device("alice", "fp-laptop", at(60))
        .await
        .expect("touch again");
    assert!(second.previously_seen);
    assert_eq!(
        (second.seen_count, second.first_seen, second.last_seen),
        (2, at(0), at(60))
    );

    assert!(
        !store
            .touch_device("alice", "fp-phone", at(61))
            .await
            .expect("new device")
            .previously_seen
    );
    assert!(
        !store
            .touch_device("bob", "fp-laptop", at(62))
            .await
            .expect("same device, other user")
            .previously_seen
    );
}

/// `start_session` is `upsert_profile` then `touch_device`, also when many
/// connects arrive at once (on SQLite they share the writer's commits).
async fn sessions_store_the_profile_and_device_also_in_a_burst(store: Arc<dyn Store>) {
    let profile = |n: usize, displayname: Option<&str>, seconds: i64| Profile {
        profileid: format!("p-{n}"),
        user_id: format!("u-{n}"),
        username: format!("user{n}"),
        displayname: displayname.map(str::to_owned),
        avatar: None,
        email: None,
        updated_at: at(seconds),
    };
    let first = store
        .start_session(&profile(0, Some("Zero"), 0), "fp-a", at(0))
        .await
        .expect("first session");
    assert!(!first.previously_seen);
    // A later token without the display name keeps it, as `upsert_profile`.
    let again = store
        .start_session(&profile(0, None, 60), "fp-a", at(60))
        .await
        .expect("second session");
    assert!(again.previously_seen);
    assert_eq!(
        (again.seen_count, again.first_seen, again.last_seen),
        (2, at(0), at(60))
    );
    let stored = get_profile(&*store, "p-0")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.displayname.as_deref(), Some("Zero"));
    assert_eq!(stored.updated_at, at(60));

    let burst: Vec<_> = (1..=200)
        .map(|n| {
            let store = Arc::clone(&store);
            let profile = profile(n, Some("Burst"), 1);
            tokio::spawn(async move {
                // Every even user connects twice from the same device.
                let first = store.start_session(&profile, "fp-b", at(1)).await;
                let second = if n % 2 == 0 {
                    Some(store.start_session(&profile, "fp-b", at(2)).await)
                } else {
                    None
                };
                (first, second)
            })
        })
        .collect();
    for (n, task) in (1..=200).zip(burst) {
        let (first, second) = task.await.expect("task");
        assert!(!first.expect("burst session").previously_seen, "user {n}");
        if let Some(second) = second {
            let second = second.expect("second burst session");
            assert!(second.previously_seen, "user {n}");
            assert_eq!(second.seen_count, 2, "user {n}");
        }
    }
    let stored = store
        .get_profiles(&(1..=200).map(|n| format!("p-{n}")).collect::<Vec<_>>())
        .await
        .expect("profiles");
    assert_eq!(stored.len(), 200);
}

async fn closed_store_reports_unavailable(store: Arc<dyn Store>) {
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    let error = store
        .get_chat("any")
        .await
        .expect_err("closed pool must fail");
    // What a client may be shown says nothing about the database.
    assert_eq!(error.to_string(), "storage unavailable");
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let missing_dir = tempfile::tempdir().expect("temporary directory");
    let sqlite = sqlite_url(&missing_dir.path().join("no-such-dir").join("x.db"));
    assert!(matches!(
        connect(&sqlite).await,
        Err(StoreError::Unavailable(_))
    ));
    // Port 1 on loopback: refused at once.
    assert!(matches!(
        connect("postgres://postgres@127.0.0.1:1/test").await,
        Err(StoreError::Unavailable(_))
    ));
}

// --- SQLite specifics ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_url_keeps_one_database() {
    let store = connect("sqlite::memory:").await.expect("open in memory");
    store.migrate().await.expect("migrate");
    // Several concurrent users of the pool must see the same database.
    concurrent_duplicate_inserts_store_one_row(store.clone()).await;
    store.close().await;
}

#[tokio::test]
async fn unknown_url_scheme_is_a_config_error() {
    for url in ["mysql://localhost/db", "lockstep.db", ""] {
        assert!(
            matches!(connect(url).await, Err(StoreError::Config(_))),
            "{url:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = sqlite_url(&dir.path().join("nested-name.db"));

    let store = connect(&url).await.expect("create file");
    store.migrate().await.expect("migrate");
    let chatid = group(&*store, "alice", &["bob"]).await;
    let message = send(&*store, &chatid, "alice", 1).await;
    store
        .enqueue_offline(&ids(&["bob"]), &message.messageid, at(5), 25)
        .await
        .expect("enqueue");
    store.close().await;

    let reopened = connect(&url).await.expect("reopen");
    reopened.migrate().await.expect("migrate again is a no-op");
    assert_eq!(
        reopened.get_message(&message.messageid).await.expect("get"),
        Some(message.clone())
    );
    let queued = reopened.take_offline("bob").await.expect("take");
    assert_eq!(queued.len(), 1);
    assert_eq!(
        reopened
            .get_participant(&chatid, "alice")
            .await
            .expect("role"),
        Some(Role::Owner)
    );
    reopened.close().await;
}

/// Env var naming the database file for [`sqlite_kill_helper`].
const KILL_HELPER_DB: &str = "LOCKSTEP_STORE_KILL_HELPER_DB";
const KILL_HELPER_READY: &str = "STORED";

/// What `kill -9` right after an acknowledgement leaves behind: a child
/// process (this test binary running [`sqlite_kill_helper`]) stores a
/// message, reports it, and is SIGKILLed without closing anything; the
/// message must be in the file when it is opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_message_survives_kill_9_after_insert() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("killed.db");
    let helper_name = format!(
        "{}::sqlite_kill_helper",
        module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_crate, rest)| rest)
    );
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([helper_name.as_str(), "--exact", "--ignored", "--nocapture"])
        .env(KILL_HELPER_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start helper");
    let stdout = child.stdout.take().expect("helper stdout");
    let reported = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix(KILL_HELPER_READY)
                    .map(|rest| rest.trim().to_owned())
            })
    })
    .await
    .expect("read helper output");
    child.kill().expect("SIGKILL helper");
    child.wait().expect("reap helper");
    let messageid = reported.expect("helper reported a stored message before being killed");

    let store = connect(&sqlite_url(&path)).await.expect("reopen");
    let message = store
        .get_message(&messageid)
        .await
        .expect("get")
        .expect("the acknowledged message survived kill -9");
    assert_eq!(message.content, "must survive");
    store.close().await;
}

/// Helper process for [`sqlite_message_survives_kill_9_after_insert`]; does
/// nothing useful on its own.
#[tokio::test]
#[ignore = "helper: started by sqlite_message_survives_kill_9_after_insert"]
async fn sqlite_kill_helper() {
    let Some(path) = std::env::var_os(KILL_HELPER_DB) else {
        return;
    };
    let store = connect(&sqlite_url(std::path::Path::new(&path)))
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    let chatid = group(&*store, "alice", &["bob"]).await;
    let stored = store
        .insert_message(&text(&chatid, "alice", "durable", "must survive"))
        .await
        .expect("insert");
    println!("{KILL_HELPER_READY} {}", stored.message.messageid);
    // Stay alive, pool open, until the parent kills us (bounded, in case it
    // never does).
    tokio::time::sleep(Duration::from_secs(60)).await;
}

// --- per-chat seq and sync (issue 23) ---

/// Every `seq` of `chatid`, read through `messages_after` in pages of 7.
async fn all_seqs(store: &dyn Store, chatid: &str) -> Vec<i64> {
    let mut seqs = Vec::new();
    let mut after = 0;
    loop {
        let page = store.messages_after(chatid, after, 7).await.expect("page");
        assert!(page.messages.len() <= 7);
        for message in &page.messages {
            assert_eq!(message.chatid, chatid);
            seqs.push(message.seq);
        }
        after = page.messages.last().map_or(after, |m| m.seq);
        if !page.has_more {
            break;
        }
    }
    seqs
}

/// Concurrent inserts into two chats, with retries and refused messages
/// among them (they share the writer's batches): each chat is numbered
/// 1..=n with no gap, a retry keeps its number, a refusal takes none.
async fn seq_numbers_each_chat_without_gaps(store: Arc<dyn Store>) {
    let first = group(&*store, "alice", &["bob"]).await;
    let second = group(&*store, "bob", &["alice"]).await;
    let per_chat = 60;
    let tasks: Vec<_> = (0..per_chat * 2 + 10)
        .map(|n| {
            let store = store.clone();
            let chatid = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            let mut message = text(&chatid, "alice", &format!("c{n}"), "hi");
            if n >= per_chat * 2 {
                // Ten refused: replying to a message that does not exist.
                message.client_message_id = format!("refused-{n}");
                message.reply_to = Some("no-such-message".to_owned());
            }
            tokio::spawn(async move { (n, store.insert_message(&message).await) })
        })
        .collect();
    let mut seq_of = HashMap::new();
    for task in tasks {
        let (n, result) = task.await.expect("task");
        if n >= per_chat * 2 {
            assert!(
                matches!(result, Err(StoreError::NotFound(_))),
                "refused {n}"
            );
        } else {
            let inserted = result.expect("stored");
            assert!(inserted.created);
            seq_of.insert(n, inserted.message.seq);
        }
    }
    // Retries keep their number and take no new one.
    for n in [0, 1, 7] {
        let chatid = if n % 2 == 0 { &first } else { &second };
        let again = store
            .insert_message(&text(chatid, "alice", &format!("c{n}"), "hi"))
            .await
            .expect("retry");
        assert!(!again.created);
        assert_eq!(again.message.seq, seq_of[&n]);
    }
    let expected: Vec<i64> = (1..=i64::from(per_chat)).collect();
    for chatid in [&first, &second] {
        assert_eq!(all_seqs(&*store, chatid).await, expected, "chat {chatid}");
    }
    // The next message continues the count; history and get_message agree.
    let next = send(&*store, &first, "bob", 999).await;
    assert_eq!(next.seq, 61);
    let fetched = store
        .get_message(&next.messageid)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(fetched.seq, 61);
    let history = store.history(&first, None, 1).await.expect("history");
    assert_eq!(history.messages[0].message.seq, 61);

    // chat_heads: the caller's chats with their newest seq, nobody else's.
    let mut heads = store.chat_heads("alice").await.expect("heads");
    heads.sort_by_key(|head| head.last_seq);
    assert_eq!(
        heads.iter().map(|h| h.last_seq).collect::<Vec<_>>(),
        vec![60, 61]
    );
    assert!(store.chat_heads("mallory").await.expect("heads").is_empty());
    let lonely = group(&*store, "carol", &[]).await;
    let carol = store.chat_heads("carol").await.expect("heads");
    assert_eq!(
        carol,
        vec![ChatHead {
            chatid: lonely,
            last_seq: 0
        }]
    );

    // A page from inside the chat, and past its end.
    let page = store.messages_after(&first, 58, 2).await.expect("page");
    assert_eq!(
        page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![59, 60]
    );
    assert!(page.has_more);
    let end = store.messages_after(&first, 61, 100).await.expect("page");
    assert!(end.messages.is_empty() && !end.has_more);
}

async fn deliveries_by_sync_report_first_time_only(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob"]).await;
    let a = send(&*store, &chatid, "alice", 1).await;
    let b = send(&*store, &chatid, "alice", 2).await;
    assert!(
        store
            .mark_delivered(&a.messageid, "bob", at(5))
            .await
            .expect("live")
    );
    let ids = vec![
        a.messageid.clone(),
        b.messageid.clone(),
        b.messageid.clone(),
    ];
    let first = store
        .mark_delivered_many(&ids, "bob", at(6))
        .await
        .expect("many");
    assert_eq!(first, vec![b.messageid.clone()], "only b was new");
    assert!(
        store
            .mark_delivered_many(&ids, "bob", at(7))
            .await
            .expect("again")
            .is_empty()
    );
    // Unknown ids (a message deleted meanwhile) are skipped.
    assert!(
        store
            .mark_delivered_many(&["no-such-message".to_owned()], "bob", at(8))
            .await
            .expect("unknown id")
            .is_empty()
    );
    assert!(
        !store
            .mark_delivered("no-such-message", "bob", at(8))
            .await
            .expect("unknown id")
    );
}

fn range(chatid: &str, profileid: &str, from_seq: i64, to_seq: i64, when: i64) -> DeliveredRange {
    DeliveredRange {
        chatid: chatid.to_owned(),
        profileid: profileid.to_owned(),
        from_seq,
        to_seq,
        at: at(when),
    }
}

fn missed(message: &StoredMessage, profileid: &str) -> (String, String) {
    (message.messageid.clone(), profileid.to_owned())
}

async fn first_time(store: &dyn Store, messages: &[&StoredMessage], profileid: &str) -> Vec<i64> {
    let ids: Vec<String> = messages.iter().map(|m| m.messageid.clone()).collect();
    let first = store
        .mark_delivered_many(&ids, profileid, at(100))
        .await
        .expect("mark delivered");
    let mut seqs: Vec<i64> = messages
        .iter()
        .filter(|m| first.contains(&m.messageid))
        .map(|m| m.seq)
        .collect();
    seqs.sort_unstable();
    seqs
}

/// The receipt log's flush: a delivered range per (chat, recipient) that
/// only rises, and exceptions for what was not handed live.
async fn delivered_ranges_and_exceptions(store: Arc<dyn Store>) {
    let chatid = group(&*store, "alice", &["bob", "carol", "dave"]).await;
    let mut m = Vec::new();
    for n in 1..=6 {
        m.push(send(&*store, &chatid, "alice", n).await);
    }
    let all: Vec<&StoredMessage> = m.iter().collect();

    // Bob got 1..=3 live except 2; a late flush of an older range (1..=1)
    // does not lower the top. Unknown chats and messages are skipped.
    store
        .flush_deliveries(&DeliveryFlush {
            delivered: vec![range(&chatid, "bob", 1, 3, 10)],
            missed: vec![
                missed(&m[1], "bob"),
                ("no-such-message".into(), "bob".into()),
            ],
        })
        .await
        .expect("flush");
    store
        .flush_deliveries(&DeliveryFlush {
            delivered: vec![
                range(&chatid, "bob", 1, 1, 5),
                range("no-such-chat", "bob", 1, 9, 5),
            ],
            missed: vec![],
        })
        .await
        .expect("older flush");
    // Below the top, not reported; the exception (2) and what lies above
    // (4..=6) are, once.
    assert_eq!(first_time(&*store, &all, "bob").await, vec![2, 4, 5, 6]);
    assert!(first_time(&*store, &all, "bob").await.is_empty(), "once");

    // An exception written after its delivery by sync keeps it delivered;
    // a range raised over fetched messages changes nothing.
    store
        .flush_deliveries(&DeliveryFlush {
            delivered: vec![range(&chatid, "bob", 6, 6, 11)],
            missed: vec![missed(&m[3], "bob")],
        })
        .await
        .expect("late exception");
    assert!(
        !store
            .mark_delivered(&m[3].messageid, "bob", at(101))
            .await
            .expect("4")
    );
    assert!(first_time(&*store, &all, "bob").await.is_empty());

    // Carol's range starts at 3: what came before it (she was not handed
    // those live) is delivered for the first time by sync.
    store
        .flush_deliveries(&DeliveryFlush {
            delivered: vec![range(&chatid, "carol", 3, 4, 10)],
            missed: vec![],
        })
        .await
        .expect("carol");
    assert!(
        store
            .mark_delivered(&m[0].messageid, "carol", at(101))
            .await
            .expect("1")
    );
    assert!(
        !store
            .mark_delivered(&m[0].messageid, "carol", at(102))
            .await
            .expect("1 again")
    );
    assert!(
        !store
            .mark_delivered(&m[2].messageid, "carol", at(101))
            .await
            .expect("3")
    );
    assert_eq!(first_time(&*store, &all, "carol").await, vec![2, 5, 6]);

    // An exception alone (dave offline for 5), then his range raised past
    // it by later live messages: 5 is still reported, once; 1..=4 were
    // never handed to him and are too.
    store
        .flush_deliveries(&DeliveryFlush {
            delivered: vec![],
            missed: vec![missed(&m[4], "dave")],
        })
        .await
        .expect("dave missed");
    store
        .flush_deliveries(&DeliveryFlush {
            delivered: vec![range(&chatid, "dave", 6, 6, 12)],
            missed: vec![],
        })
        .await
        .expect("dave live");
    assert!(
        store
            .mark_delivered(&m[4].messageid, "dave", at(101))
            .await
            .expect("5")
    );
    assert!(
        !store
            .mark_delivered(&m[4].messageid, "dave", at(102))
            .await
            .expect("5 again")
    );
    assert_eq!(first_time(&*store, &all, "dave").await, vec![1, 2, 3, 4]);
    assert!(first_time(&*store, &all, "dave").await.is_empty());

    // Reading implies delivery, also of a message inside the range.
    assert!(
        store
            .mark_read(&m[0].messageid, "bob", at(103))
            .await
            .expect("read")
    );
    assert!(
        !store
            .mark_delivered(&m[0].messageid, "bob", at(104))
            .await
            .expect("read, delivered")
    );

    // Nothing to write is fine.
    store
        .flush_deliveries(&DeliveryFlush::default())
        .await
        .expect("empty flush");
}

/// Two stores on one database stand for two nodes: each has its own
/// message writer; both write one chat at once.
async fn two_writers_number_one_chat(url: &str) {
    let one = connect(url).await.expect("first node");
    one.migrate().await.expect("migrate");
    let two = connect(url).await.expect("second node");
    let chatid = group(&*one, "alice", &["bob"]).await;
    let tasks: Vec<_> = (0..80)
        .map(|n| {
            let store = if n % 2 == 0 { one.clone() } else { two.clone() };
            let message = text(
                &chatid,
                if n % 2 == 0 { "alice" } else { "bob" },
                &format!("c{n}"),
                "hi",
            );
            tokio::spawn(async move { store.insert_message(&message).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("task").expect("stored").message.seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=80).collect::<Vec<i64>>(), "every number once");
    assert_eq!(
        all_seqs(&*two, &chatid).await,
        (1..=80).collect::<Vec<i64>>()
    );
    one.close().await;
    two.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_writers_number_one_chat() {
    let dir = tempfile::tempdir().expect("temporary directory");
    two_writers_number_one_chat(&sqlite_url(&dir.path().join("two.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_writers_number_one_chat() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = database.url.clone();
    let outcome = tokio::spawn(async move { two_writers_number_one_chat(&url).await }).await;
    database.drop().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// The migrations before 0003, from a copy of their files (the same bytes,
/// so the store's own migrator accepts them as applied).
fn migrations_before_seq(backend: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for name in ["0001_initial.sql", "0002_calls.sql"] {
        std::fs::copy(source.join(name), dir.path().join(name)).expect("copy migration");
    }
    dir
}

/// Rows written before 0003 (raw SQL, as the previous version stored them),
/// numbered by 0003: per chat, by time, then insertion order.
const OLD_ROWS: &str = "
    INSERT INTO chats (chatid, chat_type, chat_name, created_by, created_at) VALUES
        ('a', 'group', 'A', 'alice', 0), ('b', 'group', 'B', 'alice', 0), ('empty', 'group', 'E', 'alice', 0);
    INSERT INTO messages (messageid, chatid, senderid, client_message_id, message_type, content, created_at) VALUES
        ('a-late', 'a', 'alice', '1', 'text', '', 300),
        ('b-1', 'b', 'alice', '2', 'text', '', 100),
        ('a-early', 'a', 'alice', '3', 'text', '', 100),
        ('a-same-time-first', 'a', 'alice', '4', 'text', '', 200),
        ('a-same-time-second', 'a', 'alice', '5', 'text', '', 200);
";

async fn assert_old_rows_numbered(store: &dyn Store) {
    let names = |page: SeqPage| {
        page.messages
            .into_iter()
            .map(|m| (m.seq, m.messageid))
            .collect::<Vec<_>>()
    };
    let a = store.messages_after("a", 0, 10).await.expect("a");
    assert_eq!(
        names(a),
        vec![
            (1, "a-early".to_owned()),
            (2, "a-same-time-first".to_owned()),
            (3, "a-same-time-second".to_owned()),
            (4, "a-late".to_owned()),
        ]
    );
    assert_eq!(
        names(store.messages_after("b", 0, 10).await.expect("b")),
        vec![(1, "b-1".to_owned())]
    );
    // The counters continue from there.
    let next = store
        .insert_message(&text("a", "bob", "new", "after the migration"))
        .await
        .expect("insert");
    assert_eq!(next.message.seq, 5);
    let empty = store
        .insert_message(&text("empty", "bob", "first", "first"))
        .await
        .expect("insert");
    assert_eq!(empty.message.seq, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_numbers_existing_messages() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = sqlite_url(&dir.path().join("old.db"));
    {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("pool");
        let old = migrations_before_seq("sqlite");
        sqlx::migrate::Migrator::new(old.path())
            .await
            .expect("migrator")
            .run(&pool)
            .await
            .expect("old migrations");
        sqlx::raw_sql(OLD_ROWS)
            .execute(&pool)
            .await
            .expect("old rows");
        pool.close().await;
    }
    let store = connect(&url).await.expect("open");
    store.migrate().await.expect("migrate to seq");
    assert_old_rows_numbered(&*store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_numbers_existing_messages() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = database.url.clone();
    let outcome = tokio::spawn(async move {
        let pool = sqlx::PgPool::connect(&url).await.expect("pool");
        let old = migrations_before_seq("postgres");
        sqlx::migrate::Migrator::new(old.path())
            .await
            .expect("migrator")
            .run(&pool)
            .await
            .expect("old migrations");
        sqlx::raw_sql(OLD_ROWS)
            .execute(&pool)
            .await
            .expect("old rows");
        pool.close().await;
        let store = connect(&url).await.expect("open");
        store.migrate().await.expect("migrate to seq");
        assert_old_rows_numbered(&*store).await;
        store.close().await;
    })
    .await;
    database.drop().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

// --- query plans of `sync` (copied into ARCHITECTURE.md) ---

/// `sql` with `$1`, `$2`, `$3` replaced by literals (EXPLAIN takes no binds).
fn with_literals(sql: &str, values: &[&str]) -> String {
    let mut sql = sql.to_owned();
    for (i, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), value);
    }
    sql
}

/// Enough rows that the planner has a real choice: 20,000 chats of 3
/// messages, each user in 100 of them. Recursive CTEs, not
/// `generate_series`, which the bundled SQLite lacks.
const PLAN_ROWS: &str = "
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
    INSERT INTO chats (chatid, chat_type, chat_name, created_by, created_at, last_seq)
        SELECT 'c' || i, 'group', 'chat', 'owner', 0, 3 FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
    INSERT INTO chat_participants (chatid, profileid, role, joined_at)
        SELECT 'c' || i, 'p' || (i % 200), 'member', 0 FROM n;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 59999)
    INSERT INTO messages (messageid, chatid, senderid, client_message_id, message_type, content, created_at, chat_seq)
        SELECT 'm' || i, 'c' || (i % 20000 + 1), 'owner', 'k' || i, 'text', '', i, i / 20000 + 1 FROM n;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sync_queries_use_indexes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = sqlite_url(&dir.path().join("plans.db"));
    let store = connect(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    // SQLite has generate_series as a table-valued function.
    sqlx::raw_sql(PLAN_ROWS).execute(&pool).await.expect("rows");
    sqlx::raw_sql("ANALYZE")
        .execute(&pool)
        .await
        .expect("analyze");
    let mut plans = String::new();
    for sql in [
        with_literals(CHAT_HEADS, &["'p1'"]),
        with_literals(MESSAGES_AFTER, &["'c7'", "1", "101"]),
    ] {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&pool)
                .await
                .expect("plan");
        for (_, _, _, detail) in rows {
            plans.push_str(&detail);
            plans.push('\n');
        }
    }
    let _ = writeln!(std::io::stderr(), "SQLite plans:\n{plans}");
    assert!(
        plans.contains("USING INDEX chat_participants_by_profile")
            || plans.contains("USING COVERING INDEX chat_participants_by_profile"),
        "{plans}"
    );
    assert!(
        plans.contains("USING INDEX messages_by_chat_seq"),
        "{plans}"
    );
    assert!(
        !plans.contains("SCAN m") && !plans.contains("SCAN messages") && !plans.contains("SCAN p "),
        "no full scan:\n{plans}"
    );
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sync_queries_use_indexes() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = database.url.clone();
    let outcome = tokio::spawn(async move {
        let store = connect(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        store.close().await;
        let pool = sqlx::PgPool::connect(&url).await.expect("pool");
        sqlx::raw_sql(PLAN_ROWS).execute(&pool).await.expect("rows");
        sqlx::raw_sql("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
        let mut plans = String::new();
        for sql in [
            with_literals(CHAT_HEADS, &["'p1'"]),
            with_literals(MESSAGES_AFTER, &["'c7'", "1", "101"]),
        ] {
            let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
                .fetch_all(&pool)
                .await
                .expect("plan");
            plans.push_str(&rows.join("\n"));
            plans.push('\n');
        }
        let _ = writeln!(std::io::stderr(), "PostgreSQL plans:\n{plans}");
        assert!(plans.contains("chat_participants_by_profile"), "{plans}");
        assert!(plans.contains("messages_by_chat_seq"), "{plans}");
        assert!(plans.contains("chats_pkey"), "{plans}");
        assert!(!plans.contains("Seq Scan"), "no full scan:\n{plans}");
        pool.close().await;
    })
    .await;
    database.drop().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
