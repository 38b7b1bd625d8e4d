"""Health and metrics over HTTP, for load balancers, orchestrators and Prometheus.

With HEALTH_PORT set, the bot serves on HEALTH_HOST (127.0.0.1 by default):
- `GET /healthz`: 200 when every shard's gateway connection is open and knowledge is loaded, else 503 with `why`
  (starting and at which step, Discord unreachable, the token refused, the gateway disconnected); the JSON body
  says which shards are connected, the knowledge version (a hash of what is loaded: two processes with the same
  version answer alike) and the last reload's result.
- `GET /metrics`: Prometheus text format, written by prometheus_client (the format's reference implementation).

It runs on the bot's own event loop with aiohttp.web (already installed with discord.py), so it needs no thread and
sees exactly what the bot sees. Each bot has its own registry: tests can run several bots in one process.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from bot.engine import Engine

log = logging.getLogger(__name__)

FACES = ("slash", "button", "message")  # where a question came from
# answered / declined: the engine's verdict; cooldown: refused for asking too fast; failed: an error was apologised
# for; expired: the interaction's 3 s window passed before the first response (the reader saw "did not respond").
OUTCOMES = ("answered", "declined", "cooldown", "failed", "expired")
RESTART_REASONS = ("deadline", "frame", "exited")  # why an answer process was replaced
# Limits: the port is reachable by whatever can reach the host, and every socket held is a descriptor the bot
# needs for Discord. At most MAX_CONNECTIONS at once (more are closed as they arrive); a connection that has sent
# no complete request IDLE seconds after it opened or after its last response (idle keep-alive, or headers
# trickled in byte by byte) is closed.
MAX_CONNECTIONS = 64
IDLE = 5.0
BACKLOG = 64
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


class Gateway(Protocol):
    """What health needs from the bot: its shards' connection state and how busy it is."""

    def connected_shards(self) -> dict[int, bool]: ...

    @property
    def answers_in_flight(self) -> int: ...

    @property
    def answering_in_process(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Fault:
    why: str
    at: float  # time.time()


@dataclass(frozen=True, slots=True)
class Reload:
    ok: bool
    at: float  # time.time()
    problems: int


def knowledge_version(engine: Engine) -> str:
    """A short hash of the knowledge as loaded (not of file times): equal versions answer alike."""
    return hashlib.sha256(repr(engine.kb).encode()).hexdigest()[:12]


class _NotStarted:
    """The gateway before a bot exists: no shards, nothing in flight."""

    answers_in_flight = 0
    answering_in_process = False

    def connected_shards(self) -> dict[int, bool]:
        return {}


class Health:
    """The bot's counters and state, and the HTTP server that shows them.

    The runner makes one for the whole run and serves it before the first login, so /healthz answers (503, with
    why) from the first second, across retries; each bot it starts reports into it.
    """

    def __init__(self, gateway: Gateway | None = None) -> None:
        self.gateway: Gateway = gateway or _NotStarted()
        # Why /healthz is not 200, whenever it is not: the step of the start, or what went wrong.
        self.why_not_ready = "starting"
        self.registry = CollectorRegistry()
        self.questions = Counter("story_bot_questions", "Questions by where they came from and what became of them",
                                 ["face", "outcome"], registry=self.registry)
        self.story_questions = Counter("story_bot_story_questions", "Story questions by story and what became of "
                                       "them (answered, declined, intent)", ["story", "outcome"],
                                       registry=self.registry)
        self.latency = Histogram("story_bot_answer_seconds", "Time to produce an answer (engine, record and render), "
                                 "including the wait for a worker", buckets=LATENCY_BUCKETS, registry=self.registry)
        self.reloads = Counter("story_bot_knowledge_reloads", "Knowledge reloads by result", ["result"],
                               registry=self.registry)
        self.answer_deadline_misses = Counter("story_bot_answer_deadline_misses",
                                              "Questions the answer process left unanswered past ANSWER_DEADLINE "
                                              "(answered in threads instead)", registry=self.registry)
        self.answer_process_restarts = Counter("story_bot_answer_process_restarts",
                                               "Answer processes replaced: hung (the deadline), a corrupt stream "
                                               "(frame), or exited on their own (exited)", ["reason"],
                                               registry=self.registry)
        self.answer_process_fault: Fault | None = None  # the last time an answer process failed, for /healthz
        self.database_write_failures = Counter("story_bot_database_write_failures",
                                               "Writes to the store that failed (the reader was answered anyway)",
                                               registry=self.registry)
        for face in FACES:
            for outcome in OUTCOMES:
                self.questions.labels(face, outcome)  # every series from the start: rates work from the first scrape
        for result in ("ok", "failed"):
            self.reloads.labels(result)
        for reason in RESTART_REASONS:
            self.answer_process_restarts.labels(reason)
        self.registry.register(_Live(self))
        self.version: str | None = None
        self._engine: Engine | None = None
        self.last_reload: Reload | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # where it listens, once serving

    # --- what the bot reports -----------------------------------------------------------

    def knowledge_loaded(self, engine: Engine) -> None:
        """A new engine is in use: at start, or after a successful reload.

        Its version is hashed in a worker thread (a few ms for the story, about half a second at 10,000 entries:
        too long for the event loop); until then /healthz shows the version as null.
        """
        if self._engine is not None:
            self.reloads.labels("ok").inc()
            self.last_reload = Reload(True, time.time(), 0)
        self._engine, self.version = engine, None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script or a test building the bot by hand): hash it here
            self.version = knowledge_version(engine)
            return
        hashing = loop.run_in_executor(None, knowledge_version, engine)
        hashing.add_done_callback(lambda done: self._versioned(engine, done))

    def _versioned(self, engine: Engine, done: asyncio.Future[str]) -> None:
        if engine is self._engine and not done.cancelled() and done.exception() is None:
            self.version = done.result()  # a slower hash of an older engine never overwrites a newer one

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def reload_failed(self, problems: int) -> None:
        """A reload was refused; the bot keeps answering from the knowledge it has."""
        self.reloads.labels("failed").inc()
        self.last_reload = Reload(False, time.time(), problems)

    def answer_process_failed(self, reason: str, why: str) -> None:
        """An answer process was stopped or exited (reason: one of RESTART_REASONS); a new one is on its way."""
        self.answer_process_restarts.labels(reason).inc()
        self.answer_process_fault = Fault(why, time.time())

    def question(self, face: str, outcome: str, story: str | None = None) -> None:
        """Count a question; with the story it was about once it was answered or declined."""
        self.questions.labels(face, outcome).inc()
        if story is not None:
            self.story_questions.labels(story, outcome).inc()

    # --- what it shows --------------------------------------------------------------------

    def status(self) -> tuple[bool, dict[str, object]]:
        """Healthy or not, and the JSON body of /healthz."""
        shards = self.gateway.connected_shards()
        connected = sorted(i for i, up in shards.items() if up)
        loaded = self.loaded
        healthy = bool(shards) and len(connected) == len(shards) and loaded
        reload, fault = self.last_reload, self.answer_process_fault
        return healthy, {
            "status": "ok" if healthy else "unavailable",
            "why": None if healthy else self.why_not_ready,
            "shards": {"connected": connected, "total": len(shards)},
            "knowledge": {"loaded": loaded, "version": self.version},
            "last_reload": None if reload is None else {
                "ok": reload.ok, "at": _iso(reload.at),
                "problems": reload.problems,
            },
            "answer_process": {
                "answering": self.gateway.answering_in_process,
                "deadline_misses": int(self._count("story_bot_answer_deadline_misses_total")),
                "restarts": int(sum(self._count("story_bot_answer_process_restarts_total", {"reason": reason})
                                    for reason in RESTART_REASONS)),
                "last_fault": None if fault is None else {"why": fault.why, "at": _iso(fault.at)},
            },
        }  # fmt: skip

    def _count(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    async def _healthz(self, _request: web.Request) -> web.Response:
        healthy, body = self.status()
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    # --- serving ----------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self._runner is not None

    async def serve(self, host: str, port: int) -> int | None:
        """start(), unless it is serving already; a port it cannot listen on is logged (readers are answered
        all the same). The port bound, or None."""
        if self.serving:
            return self.port
        try:
            self.port = await self.start(host, port)
        except OSError as exc:
            log.error("no health and metrics server: cannot listen on %s:%s (%s)", host, port, exc.strerror or exc)
        return self.port

    async def start(self, host: str, port: int) -> int:
        """Serve /healthz and /metrics on host:port (0: any free port); the port actually bound."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=IDLE)
        await runner.setup()
        site = _CappedSite(runner, host, port, backlog=BACKLOG)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, bound = runner, site.port
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, bound)
        return bound

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner, self.port = None, None


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class _CappedSite(web.TCPSite):
    """aiohttp's TCP site, closing connections beyond MAX_CONNECTIONS as they arrive (aiohttp has no cap)."""

    _refused_logged = 0.0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def connection() -> asyncio.BaseProtocol:
            if len(server.connections) < MAX_CONNECTIONS:
                return server()
            now = time.monotonic()
            if now - self._refused_logged >= 60:  # at most a line a minute, however many are refused
                self._refused_logged = now
                log.warning("health server: %d connections open already, closing new ones until some end",
                            MAX_CONNECTIONS)
            return _Refused()

        self._server = await asyncio.get_running_loop().create_server(connection, self._host, self._port,
                                                                      backlog=self._backlog)
        self._bound_port = self._server.sockets[0].getsockname()[1]


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class _Live(Collector):
    """Values read from the bot at scrape time rather than counted as they happen."""

    def __init__(self, health: Health) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        gateway = self.health.gateway
        shards = gateway.connected_shards()
        yield GaugeMetricFamily("story_bot_shards_connected", "Shards whose gateway connection is open",
                                value=sum(shards.values()))
        yield GaugeMetricFamily("story_bot_shards", "Shards this process runs", value=len(shards))
        yield GaugeMetricFamily("story_bot_answers_in_flight", "Answers being produced right now",
                                value=gateway.answers_in_flight)
        yield GaugeMetricFamily("story_bot_knowledge_loaded", "1 when knowledge is loaded",
                                value=int(self.health.loaded))
        yield GaugeMetricFamily("story_bot_answer_process", "1 while a child process answers from the knowledge "
                                "in use (ANSWER_PROCESS); 0 while threads of the bot's own process answer",
                                value=int(gateway.answering_in_process))
