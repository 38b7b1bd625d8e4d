-- The first schema: questions, votes and the audit of edits.

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    asked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    question TEXT NOT NULL,
    question_key TEXT NOT NULL,
    answered INTEGER NOT NULL,
    source TEXT,
    confidence REAL NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER,
    user_hash TEXT
);

CREATE INDEX questions_missed ON questions (answered, question_key);

CREATE TABLE feedback (
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    user_hash TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (question_id, user_hash)
);

CREATE INDEX feedback_unhelpful ON feedback (helpful, question_id);

CREATE TABLE edits (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    action TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    moderator_id INTEGER,
    detail TEXT NOT NULL
);
