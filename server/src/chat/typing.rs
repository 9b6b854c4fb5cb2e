//! Typing indicators that end by themselves.
//!
//! Every `typing_start` bumps a generation number for (chat, user) and arms
//! a timer; when the timer fires and the generation is still the one it
//! armed, nobody restarted or stopped the indicator, so it expires and the
//! others are told the user stopped typing.

use std::collections::HashMap;
use std::sync::Mutex;

/// Live typing indicators: (chatid, profileid) -> generation.
#[derive(Default)]
pub struct Typing {
    active: Mutex<HashMap<(String, String), u64>>,
    next_generation: Mutex<u64>,
}

impl Typing {
    /// Starts (or restarts) an indicator; returns its generation.
    pub fn start(&self, chatid: &str, profileid: &str) -> u64 {
        let generation = {
            let mut next = self
                .next_generation
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.insert((chatid.to_owned(), profileid.to_owned()), generation);
        generation
    }

    /// Stops an indicator; returns whether one was live.
    pub fn stop(&self, chatid: &str, profileid: &str) -> bool {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active
            .remove(&(chatid.to_owned(), profileid.to_owned()))
            .is_some()
    }

    /// Expires the indicator if it is still at `generation`; returns whether
    /// it did.
    pub fn expire(&self, chatid: &str, profileid: &str, generation: u64) -> bool {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let key = (chatid.to_owned(), profileid.to_owned());
        if active.get(&key) == Some(&generation) {
            active.remove(&key);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_keeps_the_indicator_alive_past_the_first_timer() {
        let typing = Typing::default();
        let first = typing.start("c", "p");
        let second = typing.start("c", "p");
        assert!(!typing.expire("c", "p", first), "the first timer is stale");
        assert!(typing.expire("c", "p", second));
        assert!(!typing.stop("c", "p"), "already expired");
    }

    #[test]
    fn a_stop_disarms_the_timer() {
        let typing = Typing::default();
        let generation = typing.start("c", "p");
        assert!(typing.stop("c", "p"));
        assert!(!typing.expire("c", "p", generation));
    }
}
