-- "Did you mean…?" picks: which of two close answers a reader meant by a question.

CREATE TABLE picks (
    question_id BIGINT NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    user_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    PRIMARY KEY (question_id, user_hash)
);
