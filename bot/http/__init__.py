"""The aiohttp application: health endpoints and webhook routes."""
