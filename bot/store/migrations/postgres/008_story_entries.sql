-- Entries added from Discord belong to the story of the place they were added in (every older one is the
-- knowledge folder's); an entry id is unique within its story.

ALTER TABLE kb_entries ADD COLUMN story TEXT NOT NULL DEFAULT 'main';

ALTER TABLE kb_entries DROP CONSTRAINT kb_entries_pkey;

ALTER TABLE kb_entries ADD PRIMARY KEY (story, id);
