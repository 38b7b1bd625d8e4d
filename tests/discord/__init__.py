"""Tests of the Discord face, through discord.py's real dispatch against a fake REST API."""
