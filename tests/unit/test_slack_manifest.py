"""The Slack app manifests in the repo ask for what the adapter uses, no less."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings.chat import SlackSettings

MANIFESTS = Path(__file__).resolve().parents[2] / "adapters" / "slack"
# Web API methods the adapter calls → the bot scope each needs.
NEEDED_SCOPES = {
    "chat:write",  # chat.postMessage / chat.update / chat.postEphemeral
    "commands",  # the slash command
    "files:write",  # files_upload_v2
    "channels:read",  # conversations.list for "#name" routes
    "app_mentions:read",
    "im:history",
    "channels:history",
}
NEEDED_EVENTS = {"app_mention", "message.channels", "message.im"}


@pytest.mark.parametrize(
    ("name", "socket"), [("manifest.yaml", True), ("manifest-http.yaml", False)]
)
def test_manifest_matches_the_adapter(name: str, socket: bool) -> None:
    manifest = yaml.safe_load((MANIFESTS / name).read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= NEEDED_SCOPES
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) >= NEEDED_EVENTS
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is socket
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == SlackSettings().slash_command
    if not socket:
        path = SlackSettings().events_path
        urls = [
            command["url"],
            settings["event_subscriptions"]["request_url"],
            settings["interactivity"]["request_url"],
        ]
        assert all(url.endswith(path) for url in urls)
