//! A [`Store`] decorator that times every operation.
//!
//! [`MeteredStore`] wraps the real store and records, per operation:
//! `lockstep_db_query_duration_seconds{op}` (a histogram of the whole call,
//! pool wait included, as the caller experiences it) and, when the call
//! fails, `lockstep_db_query_errors_total{op,kind}`. `NotFound`, `Conflict`
//! and `Invalid` are answers about the data, not failures, and are not
//! counted as errors. The offline queue's traffic is counted from the
//! results: `lockstep_offline_queued_total`, `lockstep_offline_dropped_total`
//! and `lockstep_offline_delivered_total`.
//!
//! Nothing else changes: results and errors pass through untouched.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use metrics::{counter, histogram};

use super::{
    Backend, CallRecord, Chat, ChatHead, ChatSummary, CreatedChat, DeliveryFlush, DeviceSeen,
    HistoryPage, Inserted, NewChat, NewMessage, OfflineEnqueued, Participant, Profile,
    QueuedMessage, Reaction, Role, SeqPage, Store, StoreError, StoreResult, StoredMessage,
    Timestamp,
};
use crate::telemetry::names;

/// Times every call to the store it wraps.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }

    /// `inner`, wrapped, as the `Arc<dyn Store>` the server passes around.
    pub fn wrap(inner: Arc<dyn Store>) -> Arc<dyn Store> {
        Arc::new(Self::new(inner))
    }
}

/// The `kind` label of a failed call, or `None` for an answer about the data.
fn failure_kind(error: &StoreError) -> Option<&'static str> {
    match error {
        StoreError::NotFound(_) | StoreError::Conflict(_) | StoreError::Invalid(_) => None,
        StoreError::Unavailable(_) => Some("unavailable"),
        StoreError::Corrupt(_) => Some("corrupt"),
        StoreError::Config(_) => Some("config"),
        StoreError::Migrate(_) => Some("migrate"),
        StoreError::Database(_) => Some("database"),
    }
}

async fn timed<T>(op: &'static str, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let started = Instant::now();
    let result = call.await;
    histogram!(names::DB_QUERY_DURATION, "op" => op).record(started.elapsed().as_secs_f64());
    if let Err(error) = &result
        && let Some(kind) = failure_kind(error)
    {
        counter!(names::DB_QUERY_ERRORS, "op" => op, "kind" => kind).increment(1);
    }
    result
}

#[async_trait::async_trait]
impl Store for MeteredStore {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn migrate(&self) -> StoreResult<Vec<String>> {
        timed("migrate", self.inner.migrate()).await
    }

    async fn ping(&self) -> StoreResult<()> {
        timed("ping", self.inner.ping()).await
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn upsert_profile(&self, profile: &Profile) -> StoreResult<()> {
        timed("upsert_profile", self.inner.upsert_profile(profile)).await
    }

    async fn get_profiles(&self, profileids: &[String]) -> StoreResult<Vec<Profile>> {
        timed("get_profiles", self.inner.get_profiles(profileids)).await
    }

    async fn create_chat(&self, new_chat: &NewChat) -> StoreResult<CreatedChat> {
        timed("create_chat", self.inner.create_chat(new_chat)).await
    }

    async fn get_chat(&self, chatid: &str) -> StoreResult<Option<Chat>> {
        timed("get_chat", self.inner.get_chat(chatid)).await
    }

    async fn list_chats_for(&self, profileid: &str) -> StoreResult<Vec<ChatSummary>> {
        timed("list_chats_for", self.inner.list_chats_for(profileid)).await
    }

    async fn get_participant(&self, chatid: &str, profileid: &str) -> StoreResult<Option<Role>> {
        timed(
            "get_participant",
            self.inner.get_participant(chatid, profileid),
        )
        .await
    }

    async fn list_participants(&self, chatid: &str) -> StoreResult<Vec<Participant>> {
        timed("list_participants", self.inner.list_participants(chatid)).await
    }

    async fn add_participant(
        &self,
        chatid: &str,
        profileid: &str,
        role: Role,
        at: Timestamp,
    ) -> StoreResult<bool> {
        timed(
            "add_participant",
            self.inner.add_participant(chatid, profileid, role, at),
        )
        .await
    }

    async fn chat_partners(&self, profileid: &str) -> StoreResult<Vec<String>> {
        timed("chat_partners", self.inner.chat_partners(profileid)).await
    }

    async fn shared_chat(&self, a: &str, b: &str) -> StoreResult<Option<String>> {
        timed("shared_chat", self.inner.shared_chat(a, b)).await
    }

    async fn insert_message(&self, message: &NewMessage) -> StoreResult<Inserted> {
        timed("insert_message", self.inner.insert_message(message)).await
    }

    async fn get_message(&self, messageid: &str) -> StoreResult<Option<StoredMessage>> {
        timed("get_message", self.inner.get_message(messageid)).await
    }

    async fn get_messages(&self, messageids: &[String]) -> StoreResult<Vec<StoredMessage>> {
        timed("get_messages", self.inner.get_messages(messageids)).await
    }

    async fn chat_heads(&self, profileid: &str) -> StoreResult<Vec<ChatHead>> {
        timed("chat_heads", self.inner.chat_heads(profileid)).await
    }

    async fn messages_after(&self, chatid: &str, after: i64, limit: u32) -> StoreResult<SeqPage> {
        timed(
            "messages_after",
            self.inner.messages_after(chatid, after, limit),
        )
        .await
    }

    async fn flush_deliveries(&self, flush: &DeliveryFlush) -> StoreResult<()> {
        timed("flush_deliveries", self.inner.flush_deliveries(flush)).await
    }

    async fn mark_delivered_many(
        &self,
        messageids: &[String],
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        timed(
            "mark_delivered_many",
            self.inner.mark_delivered_many(messageids, profileid, at),
        )
        .await
    }

    async fn history(
        &self,
        chatid: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<HistoryPage> {
        timed("history", self.inner.history(chatid, before, limit)).await
    }

    async fn reactions_for(
        &self,
        messageids: &[String],
    ) -> StoreResult<HashMap<String, Vec<Reaction>>> {
        timed("reactions_for", self.inner.reactions_for(messageids)).await
    }

    async fn mark_delivered(
        &self,
        messageid: &str,
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        timed(
            "mark_delivered",
            self.inner.mark_delivered(messageid, profileid, at),
        )
        .await
    }

    async fn mark_read(
        &self,
        messageid: &str,
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        timed("mark_read", self.inner.mark_read(messageid, profileid, at)).await
    }

    async fn add_reaction(
        &self,
        messageid: &str,
        profileid: &str,
        emoji: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        timed(
            "add_reaction",
            self.inner.add_reaction(messageid, profileid, emoji, at),
        )
        .await
    }

    async fn enqueue_offline(
        &self,
        profileids: &[String],
        messageid: &str,
        at: Timestamp,
        cap: u32,
    ) -> StoreResult<OfflineEnqueued> {
        let outcome = timed(
            "enqueue_offline",
            self.inner.enqueue_offline(profileids, messageid, at, cap),
        )
        .await?;
        counter!(names::OFFLINE_QUEUED).increment(outcome.queued);
        counter!(names::OFFLINE_DROPPED).increment(outcome.dropped);
        Ok(outcome)
    }

    async fn take_offline(&self, profileid: &str) -> StoreResult<Vec<QueuedMessage>> {
        timed("take_offline", self.inner.take_offline(profileid)).await
    }

    async fn ack_offline(&self, profileid: &str, queue_ids: &[i64]) -> StoreResult<u64> {
        let removed = timed("ack_offline", self.inner.ack_offline(profileid, queue_ids)).await?;
        counter!(names::OFFLINE_DELIVERED).increment(removed);
        Ok(removed)
    }

    async fn touch_device(
        &self,
        profileid: &str,
        fingerprint: &str,
        at: Timestamp,
    ) -> StoreResult<DeviceSeen> {
        timed(
            "touch_device",
            self.inner.touch_device(profileid, fingerprint, at),
        )
        .await
    }

    async fn start_session(
        &self,
        profile: &Profile,
        fingerprint: &str,
        at: Timestamp,
    ) -> StoreResult<DeviceSeen> {
        let call = self.inner.start_session(profile, fingerprint, at);
        timed("start_session", call).await
    }

    async fn upsert_calls(&self, calls: &[CallRecord]) -> StoreResult<()> {
        timed("upsert_calls", self.inner.upsert_calls(calls)).await
    }

    async fn call_exists(&self, call_id: &str) -> StoreResult<bool> {
        timed("call_exists", self.inner.call_exists(call_id)).await
    }

    async fn list_calls(&self, profileid: &str, limit: u32) -> StoreResult<Vec<CallRecord>> {
        timed("list_calls", self.inner.list_calls(profileid, limit)).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use metrics_exporter_prometheus::PrometheusRecorder;

    use super::*;
    use crate::telemetry::labels::DB_OPERATIONS;

    #[test]
    fn every_timed_operation_is_listed() {
        let source = include_str!("metered.rs");
        let timed: std::collections::BTreeSet<&str> = source
            .split("timed(\"")
            .skip(1)
            .filter_map(|rest| rest.split_once('"').map(|(op, _)| op))
            .filter(|op| !op.is_empty() && op.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        let listed: std::collections::BTreeSet<&str> = DB_OPERATIONS.iter().copied().collect();
        assert_eq!(
            timed, listed,
            "DB_OPERATIONS must name every timed store call"
        );
    }
    use crate::store::{ChatType, connect};

    fn at(ms: i64) -> Timestamp {
        DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).expect("timestamp")
    }

    /// Runs `work` on a fresh SQLite store wrapped in [`MeteredStore`], with
    /// a recorder of its own (tests run in parallel); returns the scrape.
    fn scrape_after<F, Fut>(work: F) -> String
    where
        F: FnOnce(Arc<dyn Store>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let recorder: PrometheusRecorder = crate::telemetry::builder().build_recorder();
        let handle = recorder.handle();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("metered.db").display());
        // A current-thread runtime polls every future on this thread, where
        // the local recorder is installed.
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let inner = connect(&url).await.expect("open SQLite store");
                let store = MeteredStore::wrap(inner);
                store.migrate().await.expect("migrate");
                work(Arc::clone(&store)).await;
                store.close().await;
            });
        });
        handle.render()
    }

    fn value_of(scrape: &str, series: &str) -> Option<f64> {
        scrape.lines().find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
    }

    #[test]
    fn every_call_is_timed_by_operation_and_results_pass_through() {
        let scrape = scrape_after(|store| async move {
            assert_eq!(store.backend(), Backend::Sqlite);
            store.ping().await.expect("ping");
            store.ping().await.expect("ping");
            assert_eq!(store.get_chat("nope").await.expect("get_chat"), None);
        });
        assert_eq!(
            value_of(
                &scrape,
                "lockstep_db_query_duration_seconds_count{op=\"ping\"}"
            ),
            Some(2.0),
            "{scrape}"
        );
        assert_eq!(
            value_of(
                &scrape,
                "lockstep_db_query_duration_seconds_count{op=\"get_chat\"}"
            ),
            Some(1.0),
            "{scrape}"
        );
        assert!(
            scrape.contains("lockstep_db_query_duration_seconds_bucket{op=\"ping\",le=\""),
            "a histogram with buckets: {scrape}"
        );
        assert!(
            !scrape.contains("lockstep_db_query_errors_total"),
            "{scrape}"
        );
    }

    #[test]
    fn failures_are_counted_but_answers_about_the_data_are_not() {
        let scrape = scrape_after(|store| async move {
            let missing = store
                .add_participant("no-such-chat", "bob", Role::Member, at(0))
                .await;
            assert!(
                matches!(missing, Err(StoreError::NotFound(_))),
                "{missing:?}"
            );
            store.close().await;
            let closed = store.ping().await;
            assert!(
                matches!(closed, Err(StoreError::Unavailable(_))),
                "{closed:?}"
            );
        });
        assert_eq!(
            value_of(
                &scrape,
                "lockstep_db_query_errors_total{op=\"ping\",kind=\"unavailable\"}"
            ),
            Some(1.0),
            "{scrape}"
        );
        assert!(
            !scrape.contains("lockstep_db_query_errors_total{op=\"add_participant\""),
            "NotFound is not a failure: {scrape}"
        );
        assert_eq!(
            value_of(
                &scrape,
                "lockstep_db_query_duration_seconds_count{op=\"add_participant\"}"
            ),
            Some(1.0),
            "{scrape}"
        );
    }

    #[test]
    fn offline_queue_traffic_is_counted_from_the_results() {
        let scrape = scrape_after(|store| async move {
            for profileid in ["alice", "bob", "carol"] {
                store
                    .upsert_profile(&Profile {
                        profileid: profileid.into(),
                        user_id: profileid.into(),
                        username: profileid.into(),
                        displayname: None,
                        avatar: None,
                        email: None,
                        updated_at: at(0),
                    })
                    .await
                    .expect("profile");
            }
            let chat = store
                .create_chat(&NewChat {
                    creator: "alice".into(),
                    chat_type: ChatType::Group,
                    chat_name: Some("g".into()),
                    participants: vec!["bob".into(), "carol".into()],
                    created_at: at(0),
                })
                .await
                .expect("chat")
                .chat;
            let mut ids = Vec::new();
            for n in 0..3 {
                let inserted = store
                    .insert_message(&NewMessage {
                        chatid: chat.chatid.clone(),
                        senderid: "alice".into(),
                        client_message_id: format!("c{n}"),
                        message_type: "text".into(),
                        content: "hi".into(),
                        attachments: Vec::new(),
                        reply_to: None,
                        mentions: Vec::new(),
                        created_at: at(n),
                    })
                    .await
                    .expect("message");
                ids.push(inserted.message.messageid);
            }
            for (n, id) in ids.iter().enumerate() {
                // Cap 2: the third message drops the first for both.
                store
                    .enqueue_offline(&["bob".into(), "carol".into()], id, at(n as i64), 2)
                    .await
                    .expect("enqueue");
            }
            let queued = store.take_offline("bob").await.expect("take");
            assert_eq!(queued.len(), 2);
            let queue_ids: Vec<i64> = queued.iter().map(|q| q.queue_id).collect();
            assert_eq!(store.ack_offline("bob", &queue_ids).await.expect("ack"), 2);
        });
        assert_eq!(
            value_of(&scrape, "lockstep_offline_queued_total"),
            Some(6.0),
            "{scrape}"
        );
        assert_eq!(
            value_of(&scrape, "lockstep_offline_dropped_total"),
            Some(2.0),
            "{scrape}"
        );
        assert_eq!(
            value_of(&scrape, "lockstep_offline_delivered_total"),
            Some(2.0),
            "{scrape}"
        );
    }
}
