"""The stand-in for Discord: REST routes and the gateway on 127.0.0.1, with recording and faults.

Every payload the bot sends is checked against Discord's limits (a breach answers 400, as Discord
does) and against the no-ping rule (recorded, since Discord would accept it). Tests read
`violations`, `requests` and the replies attached to the events they caused.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Callable
from typing import Any, Self

from aiohttp import web

from . import limits
from .gateway import ALL_INTENTS, DIRECT_MESSAGES, GUILD_MESSAGES, Gateway
from .records import Event, Fault, Reply, Request, Signal, Violation, now
from .world import Person, Snowflakes, World, iso_now

API = "/api/v10"
NO_AUTH = re.compile(r"^/(interactions/\d+/[^/]+/callback|webhooks/\d+/[^/]+(/.*)?)$")
APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CALLBACKS_ALLOWED = {
    APPLICATION_COMMAND: {4, 5, 9},
    AUTOCOMPLETE: {8},
    COMPONENT: {4, 5, 6, 7, 9},
    MODAL_SUBMIT: {4, 5, 6, 7},
}
CALLBACK_KIND = {4: "response", 5: "defer", 6: "defer", 7: "edit", 8: "autocomplete", 9: "modal"}
OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}
SHOWN_VIOLATIONS = 20
RECORD = web.RequestKey("record", Request)


def _json(status: int, body: Any) -> web.Response:
    """discord.py only parses a body whose content type is exactly `application/json` (no charset)."""
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


def _error(status: int, message: str, code: int = 0) -> web.Response:
    return _json(status, {"message": message, "code": code})


class StandIn:
    """A local Discord for one bot, one guild and its people. Use `async with StandIn() as discord:`."""

    def __init__(
        self,
        *,
        token: str = "standin-token",
        world: World | None = None,
        heartbeat_interval: float = 41.25,
        allowed_intents: int = ALL_INTENTS,
        shard_count: int = 1,
        response_deadline: float = 3.0,
    ) -> None:
        self.token = token
        self.world = world or World()
        self.shard_count = shard_count
        self.response_deadline = response_deadline
        self.gateway = Gateway(self, heartbeat_interval=heartbeat_interval, allowed_intents=allowed_intents)
        self.requests: list[Request] = []
        self.violations: list[Violation] = []
        self.faults: list[Fault] = []
        self.unsolicited: list[Reply] = []  # bot messages that answer no event (mod log, announcements)
        self.messages: dict[int, dict[str, Any]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.signal = Signal()
        self._ids = Snowflakes()
        self._by_message: dict[int, Event] = {}
        self._by_token: dict[str, Event] = {}
        self._unanswered: dict[int, list[Event]] = {}  # channel → message events still waiting, oldest first
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- running -------------------------------------------------------------------------

    def application(self) -> web.Application:
        """The REST routes and the gateway, behind the recording middleware: what a socket (or a test) serves."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        self._routes(app.router)
        return app

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.application(), handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # port 0 → ask the socket
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """What `discord.http.Route.BASE` must be."""
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- assertions ----------------------------------------------------------------------

    def assert_clean(self) -> None:
        """Fail with every violation recorded so far; e2e fixtures call this after each test."""
        shown = "\n".join(str(v)[:300] for v in self.violations[:SHOWN_VIOLATIONS])
        more = (
            f"\n… and {len(self.violations) - SHOWN_VIOLATIONS} more" if len(self.violations) > SHOWN_VIOLATIONS else ""
        )
        assert not self.violations, f"the bot broke Discord's rules:\n{shown}{more}"

    async def wait_for_request(self, check: Callable[[Request], bool], timeout: float = 5.0) -> Request:
        return await self.signal.until(
            lambda: next((r for r in self.requests if r.status and check(r)), None), timeout, "a matching request"
        )

    async def wait_connected(self, timeout: float = 10.0, *, resumes: int = 0) -> None:
        """Until a session is identified and connected (and at least `resumes` RESUMEs happened)."""
        g = self.gateway
        await g.signal.until(
            lambda: g.resumes >= resumes and any(s.ws is not None for s in g.live_sessions()),
            timeout,
            "the bot to connect",
        )

    def inject(
        self, match: str, *, status: int = 200, retry_after: float = 0.5, delay: float = 0.0, times: int = 1
    ) -> Fault:
        """Answer the next matching requests with a rate limit, an error or a delay (see `Fault`)."""
        fault = Fault(match, status, retry_after, delay, times)
        self.faults.append(fault)
        return fault

    def _violate(self, kind: str, where: str, detail: str | list[limits.Problem]) -> None:
        text = detail if isinstance(detail, str) else "; ".join(map(str, detail))
        self.violations.append(Violation(kind, where, text))
        self.signal.notify()

    # -- HTTP plumbing -------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith(API):
            return await handler(request)
        record = Request(request.method, request.path.removeprefix(API), dict(request.query), None, now())
        self.requests.append(record)
        try:
            record.body = await _read_body(request)
        except ValueError as exc:
            response = _error(400, f"The request body is not valid JSON: {exc}", 50109)
        else:
            response = await self._answer(request, record, handler)
        record.status = response.status
        if isinstance(response, web.Response) and response.content_type == "application/json" and response.body:
            record.answer = json.loads(response.body)  # type: ignore[arg-type]  # _json() gives bytes
        self.signal.notify()
        return response

    async def _answer(
        self, request: web.Request, record: Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if not NO_AUTH.match(record.path) and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, "401: Unauthorized")
        for fault in self.faults:
            if not fault.take(record.line):
                continue
            await asyncio.sleep(fault.delay)
            if fault.status == 429:
                body = {"message": "You are being rate limited.", "retry_after": fault.retry_after, "global": False}
                headers = {"Via": "1.1 google", "Retry-After": str(fault.retry_after), "X-RateLimit-Scope": "user"}
                response = _json(429, body)
                response.headers.update(headers)
                return response
            if fault.status >= 400:
                return _error(fault.status, f"{fault.status}: injected by the stand-in")
        request[RECORD] = record
        return await handler(request)

    def _routes(self, r: web.UrlDispatcher) -> None:
        a = API
        r.add_get(f"{a}/gateway", self._get_gateway)
        r.add_get(f"{a}/gateway/bot", self._get_gateway)
        r.add_get(f"{a}/users/@me", self._me)
        r.add_get(f"{a}/oauth2/applications/@me", self._application)
        r.add_post(f"{a}/users/@me/channels", self._open_dm)
        r.add_get(f"{a}/channels/{{channel}}", self._get_channel)
        r.add_post(f"{a}/channels/{{channel}}/messages", self._create_message)
        r.add_patch(f"{a}/channels/{{channel}}/messages/{{message}}", self._edit_message)
        r.add_delete(f"{a}/channels/{{channel}}/messages/{{message}}", self._no_content)
        r.add_post(f"{a}/channels/{{channel}}/typing", self._no_content)
        r.add_route("*", f"{a}/channels/{{channel}}/messages/{{message}}/reactions/{{emoji}}/@me", self._no_content)
        for scope in ("", "/guilds/{guild}"):
            r.add_put(f"{a}/applications/{{app}}{scope}/commands", self._put_commands)
            r.add_get(f"{a}/applications/{{app}}{scope}/commands", self._get_commands)
        r.add_post(f"{a}/interactions/{{interaction}}/{{token}}/callback", self._callback)
        r.add_post(f"{a}/webhooks/{{app}}/{{token}}", self._followup)
        r.add_route("*", f"{a}/webhooks/{{app}}/{{token}}/messages/{{message}}", self._webhook_message)
        r.add_route("*", f"{a}/{{tail:.*}}", self._unknown)

    async def _unknown(self, request: web.Request) -> web.Response:
        self._violate(
            "unknown-route",
            request[RECORD].line,
            "the stand-in does not serve this route; add it if the bot needs it",
        )
        return _error(404, "404: Not Found")

    async def _no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    # -- session and application ----------------------------------------------------------

    async def _get_gateway(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json(200, {"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": limit})

    async def _me(self, request: web.Request) -> web.Response:
        return _json(200, self.world.bot.user())

    async def _application(self, request: web.Request) -> web.Response:
        w = self.world
        owner = Person(w.owner_id, "owner").user()
        return _json(
            200,
            {
                "id": str(w.application_id),
                "name": w.bot.name,
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": owner,
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "summary": "",
                "bot": w.bot.user(),
            },
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        record: Request = request[RECORD]
        if (wrong := self._wrong_app(request)) is not None:
            return wrong
        if problems := limits.check_commands(record.body):
            self._violate("limit", record.line, problems)
            return _json(400, limits.error_body(problems))
        guild = int(request.match_info["guild"]) if "guild" in request.match_info else None
        stored = [
            {"description": ""}  # what Discord answers for a context menu, which has none
            | c
            | {"id": str(self._ids()), "application_id": str(self.world.application_id), "version": str(self._ids())}
            | ({"guild_id": str(guild)} if guild else {})
            for c in record.body
        ]
        self.commands[guild] = stored
        return _json(200, stored)

    async def _get_commands(self, request: web.Request) -> web.Response:
        guild = int(request.match_info["guild"]) if "guild" in request.match_info else None
        return self._wrong_app(request) or _json(200, self.commands.get(guild, []))

    def _wrong_app(self, request: web.Request) -> web.Response | None:
        if request.match_info["app"] != str(self.world.application_id):
            self._violate("protocol", request[RECORD].line, "application id is not the bot's")
            return _error(404, "Unknown Application", 10002)
        return None

    # -- channels and messages ----------------------------------------------------------------

    async def _open_dm(self, request: web.Request) -> web.Response:
        user_id = int((request[RECORD].body or {}).get("recipient_id", 0))
        if self.world.person(user_id) is None:
            return _error(400, "Unknown User", 10013)
        return _json(200, self.world.channel(self.world.dm_channel(user_id)))

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self.world.channel(int(request.match_info["channel"]))
        return _json(200, channel) if channel else _error(404, "Unknown Channel", 10003)

    async def _create_message(self, request: web.Request) -> web.Response:
        record: Request = request[RECORD]
        channel_id = int(request.match_info["channel"])
        channel = self.world.channel(channel_id)
        if channel is None:
            self._violate("protocol", record.line, "no such channel")
            return _error(404, "Unknown Channel", 10003)
        body = record.body or {}
        if rejected := self._check_message(record, body, editing=False):
            return rejected
        ref = body.get("message_reference") or {}
        if ref and int(ref.get("message_id", 0)) not in self.messages and ref.get("fail_if_not_exists", True):
            self._violate("protocol", record.line, f"replies to unknown message {ref.get('message_id')}")
            return _json(
                400,
                limits.error_body(
                    [limits.Problem("message_reference", "Unknown message", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE")]
                ),
            )
        guild_id = int(channel["guild_id"]) if "guild_id" in channel else None
        message = self._store_message(channel_id, body, self.world.bot)
        event = self._event_for_message(channel_id, ref)
        reply = Reply("message", body, now(), message)
        if event is None:
            self.unsolicited.append(reply)
            self.signal.notify()
        else:
            event.add(reply)
        # Discord echoes the bot's own message on the gateway; a bot must ignore it.
        intent = GUILD_MESSAGES if guild_id else DIRECT_MESSAGES
        await self.gateway.dispatch("MESSAGE_CREATE", message, guild_id=guild_id, intent=intent)
        return _json(200, message)

    async def _edit_message(self, request: web.Request) -> web.Response:
        record: Request = request[RECORD]
        message = self.messages.get(int(request.match_info["message"]))
        if message is None:
            return _error(404, "Unknown Message", 10008)
        if rejected := self._check_message(record, record.body or {}, editing=True):
            return rejected
        message.update(
            {k: v for k, v in (record.body or {}).items() if k in ("content", "embeds", "components", "flags")}
        )
        message["edited_timestamp"] = iso_now()
        return _json(200, message)

    def _check_message(self, record: Request, body: dict[str, Any], *, editing: bool) -> web.Response | None:
        """400 for a breached limit (as Discord); a recorded violation for any ping the body would allow."""
        if problems := limits.check_message(body, editing=editing):
            self._violate("limit", record.line, problems)
            return _json(400, limits.error_body(problems))
        if pings := limits.allowed_pings(body):
            self._violate(
                "mention",
                record.line,
                f"allowed_mentions lets these ping: {pings}; content={body.get('content')!r:.80}",
            )
        return None

    def _store_message(self, channel_id: int, body: dict[str, Any], author: Person, **extra: Any) -> dict[str, Any]:
        message = self.world.message(self._ids(), channel_id, body, author) | extra
        self.messages[int(message["id"])] = message
        return message

    def _event_for_message(self, channel_id: int, ref: dict[str, Any]) -> Event | None:
        """The event a bot message answers: the one it replies to, else the oldest unanswered one in its channel."""
        event = self._by_message.get(int(ref.get("message_id", 0)))
        waiting = self._unanswered.get(channel_id, [])
        if event is None and waiting:
            event = waiting[0]
        if event is not None and event in waiting:
            waiting.remove(event)
        return event

    # -- interactions ---------------------------------------------------------------------------

    async def _callback(self, request: web.Request) -> web.Response:
        record: Request = request[RECORD]
        arrived = now()
        event = self._by_token.get(request.match_info["token"])
        if event is None or str(event.id) != request.match_info["interaction"]:
            self._violate("protocol", record.line, "callback for an unknown interaction")
            return _error(404, "Unknown interaction", 10062)
        body = record.body or {}
        kind, data = body.get("type"), body.get("data") or {}
        if event.acknowledged is not None:
            self._violate("protocol", record.line, "interaction answered twice")
            return _error(400, "Interaction has already been acknowledged.", 40060)
        if arrived - event.at > self.response_deadline:
            self._violate(
                "late", record.line, f"first response after {arrived - event.at:.2f}s (limit {self.response_deadline}s)"
            )
            return _error(404, "Unknown interaction", 10062)
        if kind not in CALLBACKS_ALLOWED.get(event.interaction_type or 0, set()):
            self._violate(
                "protocol", record.line, f"callback type {kind} cannot answer interaction type {event.interaction_type}"
            )
            return _json(400, limits.error_body([limits.Problem("type", "Invalid interaction response type", "50035")]))
        if kind in (4, 7):
            problems = limits.check_message(data, editing=kind == 7)
            if not problems and (pings := limits.allowed_pings(data)):
                self._violate("mention", record.line, f"allowed_mentions lets these ping: {pings}")
        else:
            problems = {8: limits.check_choices, 9: limits.check_modal}.get(kind, lambda _: [])(
                data.get("choices") if kind == 8 else data
            )
        if problems:
            self._violate("limit", record.line, problems)
            return _json(
                400, limits.error_body([limits.Problem(f"data.{p.path}", p.message, p.code) for p in problems])
            )
        event.acknowledged = arrived
        message = None
        if kind in (4, 5):
            loading = {"flags": int(data.get("flags") or 0) | limits.FLAG_LOADING} if kind == 5 else {}
            message = self._interaction_message(event, data | loading)
        elif kind == 7 and (target := event.payload.get("message")):
            message = self.messages.get(int(target["id"]))
            if message is not None:
                message.update({k: v for k, v in data.items() if k in ("content", "embeds", "components")})
        event.add(Reply(CALLBACK_KIND[kind], data, arrived, message))
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(event.id),
                "type": event.interaction_type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & limits.FLAG_EPHEMERAL),
            }
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": kind, "message": message}
        return _json(200, answer)

    def _interaction_message(self, event: Event, body: dict[str, Any]) -> dict[str, Any]:
        extra = {"webhook_id": str(self.world.application_id), "application_id": str(self.world.application_id)}
        message = self._store_message(event.channel_id, body, self.world.bot, **extra)
        message.setdefault("type", 20)
        event.payload.setdefault("original", message["id"])
        return message

    def _webhook_event(self, request: web.Request) -> tuple[Event | None, web.Response | None]:
        record: Request = request[RECORD]
        event = self._by_token.get(request.match_info["token"])
        if request.match_info["app"] != str(self.world.application_id) or event is None:
            self._violate("protocol", record.line, "webhook for an unknown interaction")
            return None, _error(404, "Unknown Webhook", 10015)
        if event.acknowledged is None:
            self._violate("protocol", record.line, "followup or edit before the interaction was answered")
            return None, _error(404, "Unknown Webhook", 10015)
        return event, None

    async def _followup(self, request: web.Request) -> web.Response:
        record: Request = request[RECORD]
        event, rejected = self._webhook_event(request)
        if event is None:
            return rejected  # type: ignore[return-value]
        body = record.body or {}
        if rejected := self._check_message(record, body, editing=False):
            return rejected
        message = self._interaction_message(event, body)
        event.add(Reply("followup", body, now(), message))
        return _json(200, message) if request.query.get("wait") in ("true", "1", "True") else web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        record: Request = request[RECORD]
        event, rejected = self._webhook_event(request)
        if event is None:
            return rejected  # type: ignore[return-value]
        key = request.match_info["message"]
        message = self.messages.get(int(event.payload.get("original", 0) if key == "@original" else key))
        if message is None:
            self._violate("protocol", record.line, "no such interaction message")
            return _error(404, "Unknown Message", 10008)
        if request.method == "DELETE":
            return web.Response(status=204)
        if request.method == "PATCH":
            body = record.body or {}
            if rejected := self._check_message(record, body, editing=True):
                return rejected
            message.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
            message["flags"] = int(message.get("flags") or 0) & ~limits.FLAG_LOADING
            message["edited_timestamp"] = iso_now()
            event.add(Reply("edit", {**body, "flags": message["flags"]}, now(), message))
        return _json(200, message)

    # -- registering events (used by the actor helpers) ---------------------------------------------

    def heard(self, message: dict[str, Any]) -> Event:
        """A member's message (already delivered or about to be): the bot's answer to it attaches to its event."""
        self.messages[int(message["id"])] = message
        event = Event("message", int(message["id"]), int(message["channel_id"]), now(), Signal(), payload=message)
        self._by_message[event.id] = event
        self._unanswered.setdefault(event.channel_id, []).append(event)
        return event

    def expect(self, payload: dict[str, Any]) -> Event:
        """An interaction (already delivered or about to be): its token now accepts callbacks and followups."""
        event = Event(
            "interaction",
            int(payload["id"]),
            int(payload["channel_id"]),
            now(),
            Signal(),
            payload["token"],
            payload["type"],
            payload,
        )
        self._by_token[str(event.token)] = event
        return event

    def new_id(self) -> int:
        return self._ids()

    def new_token(self) -> str:
        return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)


async def _read_body(request: web.Request) -> Any:
    """The JSON body, or the `payload_json` part of a multipart upload."""
    if not request.body_exists:
        return None
    if request.content_type == "application/json":
        return json.loads(await request.text())
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        payload = form.get("payload_json")
        return json.loads(str(payload)) if payload else {}
    return None
