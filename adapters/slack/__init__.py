"""The Slack adapter (slack-bolt ``AsyncApp``; Socket Mode or HTTP)."""

from adapters.slack.adapter import SLACK_CAPABILITIES, SlackAdapter, SlackConfig

__all__ = ["SLACK_CAPABILITIES", "SlackAdapter", "SlackConfig"]
