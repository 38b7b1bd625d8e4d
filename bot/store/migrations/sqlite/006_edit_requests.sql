-- An edit's request key in its audit row: a retry after a lost reply finds its own edit there, landed.

ALTER TABLE edits ADD COLUMN request TEXT;

CREATE UNIQUE INDEX edits_request ON edits (request);
