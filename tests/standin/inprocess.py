"""The stand-in serving a discord.py client in this very process, without sockets: fast tests of a bot's cogs.

REST: the two places where discord.py puts bytes on the wire (`HTTPClient.request`, and
`AsyncWebhookAdapter.request` for interaction responses and followups) are replaced by a call into the
stand-in's own aiohttp application (the middleware, routes, checks and records the end-to-end tests reach
over a socket), and its answer is turned back into what discord.py returns or raises. Rate limits are
raised as they come (discord.py's waiting and retrying is the end-to-end tests' business).

Gateway: the test hands each event to discord.py's parsers, as DiscordWebSocket does, through `deliver`,
which first tells the stand-in about it (a member's message the bot may reply to, an interaction whose
token its callbacks use).
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import discord
import pytest
from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request
from discord.http import HTTPClient, Route
from discord.webhook.async_ import AsyncWebhookAdapter

from .actors import Discord
from .server import API

ERRORS: dict[int, type[discord.HTTPException]] = {403: discord.Forbidden, 404: discord.NotFound}


class InProcess(Discord):
    """A stand-in whose REST API answers discord.py in-process; `install` it, then `deliver` gateway events."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._app = self.application()
        self._app.freeze()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Route every REST and webhook request of every discord.py client to this stand-in for the test."""
        standin = self

        async def rest(http: HTTPClient, route: Route, *, files: Any = None, form: Any = None, **kwargs: Any) -> Any:
            body = kwargs.get("json", _payload_json(form))
            return await standin.serve(route, body, kwargs.get("params"), http.token)

        async def webhook(
            adapter: AsyncWebhookAdapter,
            route: Route,
            session: Any,
            *,
            payload: Any = None,
            multipart: Any = None,
            params: Any = None,
            auth_token: str | None = None,
            **kwargs: Any,
        ) -> Any:
            body = payload if payload is not None else _payload_json(multipart)
            return await standin.serve(route, body, params, auth_token)

        monkeypatch.setattr(HTTPClient, "request", rest)
        monkeypatch.setattr(AsyncWebhookAdapter, "request", webhook)

    async def serve(self, route: Route, body: Any, params: dict[str, Any] | None, token: str | None) -> Any:
        """One request through the stand-in's application; its JSON (or text), or the exception discord.py raises."""
        target = API + route.url.removeprefix(Route.BASE) + (f"?{urlencode(params)}" if params else "")
        headers = {"Authorization": f"Bot {token}"} if token else {}
        payload: Any = streams.EMPTY_PAYLOAD
        if body is not None:
            raw = json.dumps(body).encode()
            headers |= {"Content-Type": "application/json", "Content-Length": str(len(raw))}
            payload = streams.StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
            payload.feed_data(raw)
            payload.feed_eof()
        request = make_mocked_request(route.method, target, headers=headers, payload=payload, app=self._app)
        response = await self._app._handle(request)
        assert isinstance(response, web.Response)
        text = response.body.decode() if isinstance(response.body, bytes) else ""
        data = json.loads(text) if response.content_type == "application/json" and text else text
        if 200 <= response.status < 300:
            return data
        error = ERRORS.get(response.status, discord.DiscordServerError if response.status >= 500 else None)
        raise (error or discord.HTTPException)(SimpleNamespace(status=response.status, reason=response.reason), data)

    def deliver(self, client: discord.Client, event: str, payload: dict[str, Any]) -> None:
        """Hand one gateway dispatch to `client` the way its websocket would, after noting it here."""
        if event == "MESSAGE_CREATE":
            self.heard(payload)
        elif event == "INTERACTION_CREATE":
            self.expect(payload)
        client._connection.parsers[event](payload)


def _payload_json(parts: list[dict[str, Any]] | None) -> Any:
    """The JSON part of a multipart body (the files are not kept)."""
    for part in parts or []:
        if part.get("name") == "payload_json":
            return json.loads(part["value"])
    return None
