"""Tests of the Discord face, through discord.py's real dispatch against the stand-in Discord, in process."""
