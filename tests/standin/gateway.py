"""The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, and its faults.

Frames go out as plain JSON text (discord.py accepts them although it asks for zlib-stream).
Each session keeps a bounded log of its dispatches, so a RESUME replays what was missed
while the connection was down, as Discord does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .records import Signal

if TYPE_CHECKING:
    from .server import StandIn

# Gateway opcodes, from Discord's documentation.
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME = 0, 1, 2, 3, 6
RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, ACK = 7, 8, 9, 10, 11
GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 9, 1 << 12, 1 << 15
GUILD_MEMBERS, GUILD_PRESENCES = 1 << 1, 1 << 8
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1
REDACTED = {"content": "", "embeds": [], "attachments": [], "components": []}  # what MESSAGE_CONTENT guards
LOG_LIMIT = 20_000  # dispatches kept per session for RESUME; Discord keeps a short window too
FIRST_FRAME_TIMEOUT = 10.0


@dataclass(eq=False)
class Session:
    """One identified session; it outlives its websocket so that it can be resumed."""

    id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    log: list[tuple[int, str]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    valid: bool = True

    async def send(self, event: str, data: dict[str, Any]) -> None:
        """Number, log and (if connected) send one dispatch; under the lock so order matches seq."""
        async with self.lock:
            self.seq += 1
            frame = json.dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data})
            self.log.append((self.seq, frame))
            del self.log[:-LOG_LIMIT]
            if self.ws is not None and not self.ws.closed:
                try:
                    await self.ws.send_str(frame)
                except ConnectionError:
                    self.ws = None  # the RESUME replays it from the log


class Gateway:
    def __init__(self, standin: StandIn, *, heartbeat_interval: float, allowed_intents: int) -> None:
        self.standin = standin
        self.heartbeat_interval = heartbeat_interval
        self.allowed_intents = allowed_intents
        self.sessions: dict[str, Session] = {}
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self.ack_heartbeats = True
        self.close_codes: list[int] = []  # codes the stand-in closed with, for assertions
        self.client_close_codes: list[int | None] = []  # codes the bot closed with (None: no close frame)
        self.signal = Signal()
        self._sockets: set[web.WebSocketResponse] = set()
        self._hung_up: set[web.WebSocketResponse] = set()  # connections the stand-in ended, not the bot

    # -- connection lifecycle ------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        session: Session | None = None
        try:
            await ws.send_str(
                json.dumps({"op": HELLO, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}})
            )
            session = await self._handshake(ws)
            if session is not None:
                await self._serve(ws, session)
                if ws not in self._hung_up:
                    self.client_close_codes.append(ws.close_code)
        finally:
            self._sockets.discard(ws)
            self._hung_up.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            self.signal.notify()
        return ws

    async def _handshake(self, ws: web.WebSocketResponse) -> Session | None:
        try:
            msg = await ws.receive(timeout=FIRST_FRAME_TIMEOUT)
        except TimeoutError:
            await self._close(ws, 4003, "Not authenticated.")
            return None
        while msg.type is WSMsgType.TEXT and json.loads(msg.data).get("op") == HEARTBEAT:
            await self._heartbeat(ws)
            msg = await ws.receive(timeout=FIRST_FRAME_TIMEOUT)
        if msg.type is not WSMsgType.TEXT:
            return None
        frame = json.loads(msg.data)
        data = frame.get("d") or {}
        if data.get("token") != self.standin.token:
            await self._close(ws, 4004, "Authentication failed.")
            return None
        if frame.get("op") == IDENTIFY:
            return await self._identify(ws, data)
        if frame.get("op") == RESUME:
            return await self._resume(ws, data)
        await self._close(ws, 4003, "Not authenticated.")
        return None

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED & ~self.allowed_intents:
            await self._close(ws, 4014, "Disallowed intent(s).")
            return None
        shard = tuple(data.get("shard") or (0, 1))
        session = Session(secrets.token_hex(16), (int(shard[0]), int(shard[1])), intents, ws=ws)
        for old in self.sessions.values():
            old.valid = old.valid and old.shard != session.shard  # a new IDENTIFY replaces the shard's session
        self.sessions[session.id] = session
        self.identifies += 1
        world = self.standin.world
        guilds = [world.guild_id] if self.owns(session, world.guild_id) else []
        await session.send(
            "READY",
            {
                "v": 10,
                "user": world.bot.user(),
                "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "resume_gateway_url": self.standin.gateway_url,
                "shard": list(session.shard),
                "application": {"id": str(world.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "user_settings": {},
                "geo_ordered_rtc_regions": [],
            },
        )
        if guilds and intents & GUILDS:
            await session.send("GUILD_CREATE", world.guild())
        self.signal.notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.valid:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
            return None
        async with session.lock:
            session.ws = ws
            missed = [frame for seq, frame in session.log if seq > int(data.get("seq") or 0)]
            for frame in missed:
                await ws.send_str(frame)
            await ws.send_str(json.dumps({"op": DISPATCH, "t": "RESUMED", "s": session.seq, "d": {}}))
        self.resumes += 1
        self.signal.notify()
        return session

    async def _serve(self, ws: web.WebSocketResponse, session: Session) -> None:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            op = frame.get("op")
            if op == HEARTBEAT:
                await self._heartbeat(ws)
            elif op == REQUEST_MEMBERS:
                await self._members_chunk(session, frame.get("d") or {})
            elif op in (IDENTIFY, RESUME):
                await self._close(ws, 4005, "Already authenticated.")
            elif op != PRESENCE:
                await self._close(ws, 4001, f"Unknown opcode {op}.")

    async def _heartbeat(self, ws: web.WebSocketResponse) -> None:
        self.heartbeats += 1
        self.signal.notify()
        if self.ack_heartbeats:
            await ws.send_str(json.dumps({"op": ACK}))

    async def _members_chunk(self, session: Session, data: dict[str, Any]) -> None:
        guild = self.standin.world.guild()
        chunk = {
            "guild_id": guild["id"],
            "members": guild["members"],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": data.get("nonce"),
        }
        await session.send("GUILD_MEMBERS_CHUNK", chunk)

    async def _close(self, ws: web.WebSocketResponse, code: int, reason: str) -> None:
        self.close_codes.append(code)
        self._hung_up.add(ws)
        self.signal.notify()
        await ws.close(code=code, message=reason.encode())

    # -- dispatching ---------------------------------------------------------------------

    @staticmethod
    def owns(session: Session, guild_id: int | None) -> bool:
        """Discord's shard formula; DMs go to shard 0."""
        shard_id, count = session.shard
        return shard_id == (0 if guild_id is None else (guild_id >> 22) % count)

    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.valid]

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None, intent: int = 0, private: bool = False
    ) -> int:
        """Send one event to the session owning `guild_id`, if it asked for `intent`; returns how many got it.

        `private` marks message content a bot sees only with the MESSAGE_CONTENT intent
        (not a DM, not mentioning it, not its own message): without the intent it arrives empty.
        """
        sent = 0
        for session in self.live_sessions():
            if self.owns(session, guild_id) and (intent == 0 or session.intents & intent):
                redact = private and not session.intents & MESSAGE_CONTENT
                await session.send(event, data | REDACTED if redact else data)
                sent += 1
        return sent

    # -- faults --------------------------------------------------------------------------

    async def drop(self, code: int | None = None) -> None:
        """Cut every connection: abruptly (no close frame) when `code` is None, else with that close code."""
        for ws in list(self._sockets):
            if code is None:
                self._hung_up.add(ws)
                transport = ws._req.transport if ws._req is not None else None  # no public API to abort
                if transport is not None:
                    transport.abort()
            else:
                await self._close(ws, code, "Dropped by the stand-in.")

    async def send_op(self, op: int, d: Any = None) -> None:
        """Send a bare opcode (7 RECONNECT, 9 INVALID_SESSION) on every open connection."""
        if op == INVALID_SESSION and d is False:
            for session in self.sessions.values():
                session.valid = False
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_str(json.dumps({"op": op, "d": d}))

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"Stand-in shutting down.")
