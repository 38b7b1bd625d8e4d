-- Many stories: each question keeps the story it was asked about (every older one was the knowledge
-- folder's), moderators map a server (channel 0) or one channel to a story, and a reader picks one for DMs.

ALTER TABLE questions ADD COLUMN story TEXT NOT NULL DEFAULT 'main';

CREATE INDEX questions_story ON questions (story, id);

CREATE TABLE story_places (
    guild_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    story TEXT NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);

CREATE TABLE reader_stories (user_hash TEXT PRIMARY KEY, story TEXT NOT NULL);
