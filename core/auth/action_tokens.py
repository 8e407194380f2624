"""``ST2_ACTION_AUTH_TOKEN``: a token for the execution's user, alive while its runner runs.

st2 gives actions a token so pack code (the Exchange ``st2`` pack, st2client scripts) can call
the API back; Squall does the same, with a TTL that covers the action's timeout and a revoke
as soon as the runner returns, whatever the outcome.
"""

from __future__ import annotations

from datetime import timedelta

from core.auth.service import AuthService
from core.auth.tokens import Token
from core.models import Execution


class ActionTokenIssuer:
    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    async def issue(self, execution: Execution) -> tuple[str, object]:
        user = str(execution.context.get("api_user") or execution.context.get("user") or "")
        timeout = execution.parameters.get("timeout")
        ttl = self._auth.options.action_token_ttl
        if isinstance(timeout, int | float) and timeout > 0:
            ttl = max(ttl, timedelta(seconds=float(timeout) + 60))
        plaintext, token = await self._auth.issue(
            user, ttl=ttl, kind="action", execution_id=execution.id
        )
        return plaintext, token

    async def revoke(self, handle: object) -> None:
        if isinstance(handle, Token):
            await self._auth.revoke(handle)
