"""One feature, one file: each module ends with `async def setup(bot)`."""
