"""The errbot bridge: any errbot backend (IRC, XMPP, Telegram, Mattermost, …) as a Squall chat."""
