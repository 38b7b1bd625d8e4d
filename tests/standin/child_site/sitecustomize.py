"""Loaded by Python at start-up when this directory is on PYTHONPATH (tests put it there for
`python -m bot run` child processes): points discord.py at the stand-in named in the environment,
so the bot's own code needs no test hooks. Does nothing when STANDIN_URL is unset.
"""

import os

if os.environ.get("STANDIN_URL"):
    import discord.gateway
    import discord.http
    import yarl

    discord.http.Route.BASE = os.environ["STANDIN_URL"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["STANDIN_GATEWAY_URL"])
