-- Q&A entries added from Discord, shared by every process (PostgreSQL only: SQLite's are in
-- qa-discord.yaml, so this step is empty there).

-- (nothing to do in this dialect)
