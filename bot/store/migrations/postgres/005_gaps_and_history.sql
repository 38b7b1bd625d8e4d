-- Moderators' gaps and audit: a pick keeps the chosen answer's source; a missed wording stops being a
-- gap when it is answered now (closed_gaps); the audit keeps an entry's YAML before and after an edit;
-- indexes for one entry's history, the newest misses first, and /kb stats' totals at millions of rows.

ALTER TABLE picks ADD COLUMN source TEXT;

CREATE TABLE closed_gaps (
    question_key TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    how TEXT NOT NULL
);

CREATE INDEX closed_gaps_at ON closed_gaps (closed_at);

ALTER TABLE edits ADD COLUMN before TEXT;

ALTER TABLE edits ADD COLUMN after TEXT;

CREATE INDEX edits_entry ON edits (entry_id, id);

CREATE INDEX feedback_missed ON feedback (helpful, at);

CREATE INDEX picks_at ON picks (at);

CREATE INDEX questions_answered_source ON questions (answered, source);
