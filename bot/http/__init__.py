"""The aiohttp side of Squall: health, webhooks, StackStorm's REST API and event stream."""
