-- "Did you mean…?" picks: which of two close answers a reader meant by a question.

CREATE TABLE picks (
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    user_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (question_id, user_hash)
);
