"""Who is calling the REST API: passwords, tokens, API keys and the login throttle."""
