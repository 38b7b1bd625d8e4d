-- Entries added from Discord belong to the story of the place they were added in: SQLite keeps them in each
-- story's own qa-discord.yaml, so this step is empty here.

-- (nothing to do in this dialect)
