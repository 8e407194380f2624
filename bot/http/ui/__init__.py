"""The web console at ``/ui/``: server-rendered pages over the same engine, authorization and
event stream as the REST API (bot.http.api)."""
