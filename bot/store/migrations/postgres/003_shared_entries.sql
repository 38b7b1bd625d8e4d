-- Q&A entries added from Discord, shared by every process (PostgreSQL only: SQLite's are in
-- qa-discord.yaml, so this step is empty there).

CREATE TABLE kb_entries (
    position BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    added_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
);
