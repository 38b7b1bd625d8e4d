"""The Discord face: a thin layer that turns engine answers into messages, embeds and buttons."""
