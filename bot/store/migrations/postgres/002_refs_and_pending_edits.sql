-- Question refs made by the bot (the vote buttons carry them before the row exists), pruning by
-- date, and the status of an edit's audit row (pending until the file write is done).

ALTER TABLE questions ADD COLUMN ref BIGINT;

UPDATE questions SET ref = id;

CREATE UNIQUE INDEX questions_ref ON questions (ref);

CREATE INDEX questions_asked ON questions (asked_at);

ALTER TABLE edits ADD COLUMN status TEXT NOT NULL DEFAULT 'done';
