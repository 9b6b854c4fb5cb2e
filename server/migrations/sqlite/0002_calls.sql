-- Call records: one row per call, written when it starts ringing and
-- updated when it is answered and when it ends. Live routing state (which
-- socket is in which call) is not here: it lives in the call registry.
-- Keep in step with ../postgres/0002_calls.sql.
CREATE TABLE calls (
    callid           TEXT PRIMARY KEY NOT NULL,
    caller           TEXT NOT NULL,
    callee           TEXT NOT NULL,
    call_type        TEXT NOT NULL CHECK (call_type IN ('voice', 'video')),
    chatid           TEXT,
    status           TEXT NOT NULL CHECK (status IN ('ringing', 'active', 'ended', 'missed', 'rejected', 'cancelled')),
    end_reason       TEXT,
    ended_by         TEXT,
    rung_at          INTEGER NOT NULL,
    answered_at      INTEGER,
    ended_at         INTEGER,
    duration_seconds INTEGER
) STRICT;

CREATE INDEX calls_by_caller ON calls (caller, rung_at);
CREATE INDEX calls_by_callee ON calls (callee, rung_at);
