# The story bot in a container: a non-root user, the knowledge and data folders as volumes, /healthz for the
# orchestrator. The install is the one tests/e2e/test_e2e_install.py runs (a plain `pip install .`), plus the postgres
# extra that compose.yaml's DATABASE_URL needs, pinned by constraints.txt. Not built on the development machine
# (no Docker there): see docs/deploying.md.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY knowledge ./knowledge
# bot/story is a symlink to ../knowledge: the wheel takes the story's knowledge from there.
COPY bot ./bot
RUN python -m venv /opt/story-bot \
 && /opt/story-bot/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/story-bot/bin/pip install --no-cache-dir -c constraints.txt ".[postgres]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /srv/story-bot --shell /usr/sbin/nologin story-bot \
 && mkdir -p /srv/story-bot/data \
 && chown -R story-bot:story-bot /srv/story-bot
COPY --from=build /opt/story-bot /opt/story-bot
# The story's knowledge, for `docker run` without a mount. compose.yaml binds the checkout's knowledge/ over it
# instead of a named volume, which would keep the first image's files for ever.
COPY --chown=story-bot:story-bot knowledge /srv/story-bot/knowledge
ENV PATH=/opt/story-bot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STORY_BOT_HOME=/srv/story-bot \
    STORY_BOT_CACHE=/srv/story-bot/data/cache \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080 \
    WATCHFILES_FORCE_POLLING=1
USER story-bot
WORKDIR /srv/story-bot
VOLUME ["/srv/story-bot/knowledge", "/srv/story-bot/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
