//! The chats and participant lists the store keeps in memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::store::{Chat, Participant};

/// Most chats the caches hold; past it they start over (cheaper than LRU
/// bookkeeping on every hit, and a refill is one query per chat).
const CACHE_MAX_CHATS: usize = 50_000;

/// Rows the store looks up on every message, kept in memory.
///
/// * Chats: a chat row never changes once created (the store has no update
///   or delete of chats), so a cached chat is exact even with several nodes
///   sharing PostgreSQL.
/// * Participant lists. On SQLite the file is served by one process and
///   every change of a list goes through this store, which drops the list
///   when it changes. On PostgreSQL another node may add a participant: the
///   node that adds one announces it with `NOTIFY` in the same statement,
///   and every node drops the list when the notification arrives
///   (`participants_listener`). Lists are only served while that listener
///   is connected (`participants_live`); when it loses its connection,
///   every list is dropped, since changes may have been missed.
///
/// A list read from the database is only cached if no change happened while
/// it was being read (`generation`), so a read racing a change can never
/// leave a stale list behind. After [`Store::close`] nothing is served from
/// memory.
pub(super) struct Cache {
    chats: RwLock<HashMap<String, Chat>>,
    participants: RwLock<HashMap<String, Arc<[Participant]>>>,
    /// Whether a list may be served from (and kept in) memory: always on
    /// SQLite; on PostgreSQL while the change notifications are heard.
    participants_live: AtomicBool,
    generation: AtomicU64,
    closed: AtomicBool,
}

impl Cache {
    /// `participants_live`: whether participant lists may be cached from
    /// the start (SQLite) or only once the change notifications are heard
    /// (PostgreSQL, see [`Cache::set_participants_live`]).
    pub(super) fn new(participants_live: bool) -> Self {
        Self {
            chats: RwLock::default(),
            participants: RwLock::default(),
            participants_live: AtomicBool::new(participants_live),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    pub(super) fn open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    pub(super) fn chat(&self, chatid: &str) -> Option<Chat> {
        if !self.open() {
            return None;
        }
        read(&self.chats).get(chatid).cloned()
    }

    pub(super) fn keep_chat(&self, chat: &Chat) {
        let mut chats = write(&self.chats);
        if chats.len() >= CACHE_MAX_CHATS {
            chats.clear();
        }
        chats.insert(chat.chatid.clone(), chat.clone());
    }

    pub(super) fn participants(&self, chatid: &str) -> Option<Arc<[Participant]>> {
        if !self.open() || !self.participants_live.load(Ordering::Acquire) {
            return None;
        }
        read(&self.participants).get(chatid).cloned()
    }

    /// Where a list read from the database may be cached: the generation
    /// before the read.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn keep_participants(&self, chatid: &str, list: &[Participant], read_at: u64) {
        // An empty list means no such chat (every chat has its creator).
        if list.is_empty() {
            return;
        }
        let mut lists = write(&self.participants);
        if self.generation() != read_at || !self.participants_live.load(Ordering::Acquire) {
            return;
        }
        if lists.len() >= CACHE_MAX_CHATS {
            lists.clear();
        }
        lists.insert(chatid.to_owned(), list.into());
    }

    /// Drops `chatid`'s list after a change to it.
    pub(super) fn participants_changed(&self, chatid: &str) {
        let mut lists = write(&self.participants);
        self.generation.fetch_add(1, Ordering::AcqRel);
        lists.remove(chatid);
    }

    /// Drops every list. A read that started before this call is not
    /// cached afterwards either (the generation moves on).
    pub(super) fn forget_participants(&self) {
        let mut lists = write(&self.participants);
        self.generation.fetch_add(1, Ordering::AcqRel);
        lists.clear();
    }

    /// From now on caches lists only if `live`, and drops every list held:
    /// going live once the listener listens means that every list cached
    /// afterwards was read while changes were heard.
    pub(super) fn set_participants_live(&self, live: bool) {
        self.participants_live.store(live, Ordering::Release);
        self.forget_participants();
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        write(&self.chats).clear();
        write(&self.participants).clear();
    }
}

pub(super) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
