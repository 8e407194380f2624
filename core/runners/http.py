"""``http-request``: one HTTP call, and its redirects if allowed, through the SSRF policy (§2.4)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from core.models import ExecutionStatus, RunnerType
from core.runners.base import RunContext, RunnerResult
from core.runners.process import CappedBuffer
from core.runners.ssrf import (
    BlockedAddressError,
    HttpPolicy,
    VettingResolver,
    check_literal,
    host_list_error,
    vet_host,
)
from core.runners.types import HTTP_REQUEST
from core.version import installed_version

MAX_REDIRECTS = 10
DEFAULT_TIMEOUT = 60.0
DEFAULT_POLICY = HttpPolicy()
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
T = TypeVar("T")


@cache
def user_agent() -> str:
    return f"squall/{installed_version() or 'unknown'}"


class RequestRefused(Exception):
    """The request was not (or no further) sent; the message becomes ``result.error``."""


@dataclass(frozen=True)
class HttpCall:
    """One request as it goes on the wire; a redirect produces the next one."""

    method: str
    url: URL
    headers: CIMultiDict[str]
    data: Any
    cookies: Mapping[str, str]
    verify_ssl: bool
    proxies: Mapping[str, str]
    timeout: float
    follow: bool
    whitelist: tuple[str, ...]
    blacklist: tuple[str, ...]


class HttpRequestRunner:
    runner_type: RunnerType = HTTP_REQUEST

    def __init__(self, policy: HttpPolicy = DEFAULT_POLICY) -> None:
        self._policy = policy
        self._client: aiohttp.ClientSession | None = None

    async def run(self, ctx: RunContext) -> RunnerResult:
        try:
            call = build_call(ctx)
        except (RequestRefused, ValueError, TypeError) as exc:
            return RunnerResult.failed(str(exc))
        if ctx.cancel.is_set():
            return _canceled()
        outcome = await _unless_canceled(self._perform(call, ctx.output_limit_bytes), ctx.cancel)
        return _canceled() if outcome is None else outcome

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _session(self) -> aiohttp.ClientSession:
        # Created on first use because a session must be made inside the running loop.
        if self._client is None:
            connector = aiohttp.TCPConnector(
                resolver=VettingResolver(self._policy), use_dns_cache=False
            )
            self._client = aiohttp.ClientSession(
                connector=connector,
                # One session serves every action: cookies must not leak between executions.
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                # Proxies come from the action's parameters only, never from Squall's env.
                trust_env=False,
            )
        return self._client

    async def _perform(self, call: HttpCall, limit: int) -> RunnerResult:
        try:
            async with asyncio.timeout(call.timeout):
                return await self._follow(call, limit)
        except TimeoutError:
            error = f"Request to {call.url} timed out after {call.timeout:g} seconds"
            return RunnerResult(ExecutionStatus.TIMEOUT, {"error": error})
        except (RequestRefused, aiohttp.ClientError, OSError, ValueError) as exc:
            return RunnerResult.failed(_describe(exc))

    async def _follow(self, call: HttpCall, limit: int) -> RunnerResult:
        for _ in range(MAX_REDIRECTS + 1):
            await self._vet(call)
            async with self._send(call) as resp:
                location = resp.headers.get("Location")
                if not (call.follow and location and resp.status in _REDIRECT_CODES):
                    return await response_result(resp, limit)
                call = redirected(call, resp.status, call.url.join(URL(location)))
        raise RequestRefused(f"more than {MAX_REDIRECTS} redirects")

    @contextlib.asynccontextmanager
    async def _send(self, call: HttpCall) -> AsyncIterator[aiohttp.ClientResponse]:
        async with self._session().request(
            call.method,
            call.url,
            headers=call.headers,
            data=call.data,
            cookies=dict(call.cookies) or None,
            ssl=call.verify_ssl,
            proxy=call.proxies.get(call.url.scheme),
            # Redirects are followed by _follow, which vets every hop first.
            allow_redirects=False,
        ) as resp:
            yield resp

    async def _vet(self, call: HttpCall) -> None:
        """Checks made before each hop; the resolver checks resolved names at connect time."""
        url = call.url
        if url.scheme not in self._policy.allowed_schemes:
            raise RequestRefused(f"URL scheme {url.scheme!r} is not allowed")
        host = url.raw_host
        if not host:
            raise RequestRefused(f"URL {url} has no host")
        if error := host_list_error(url.host or host, call.whitelist, call.blacklist):
            raise RequestRefused(error)
        check_literal(self._policy, host)
        proxy = call.proxies.get(url.scheme)
        if proxy:
            check_literal(self._policy, URL(proxy).raw_host or "")
            # The proxy resolves the target itself; refuse a name that resolves inside here,
            # but a name only the proxy can resolve is the proxy's to police.
            with contextlib.suppress(socket.gaierror):
                await vet_host(self._policy, host, url.port or 0)


def build_call(ctx: RunContext) -> HttpCall:
    """The first request, from the runner parameters and core.http's action parameters."""
    rp, ap = ctx.runner_parameters, ctx.action_parameters
    if not isinstance(rp.get("url"), str) or not rp["url"]:
        raise RequestRefused("url is required")
    url = URL(rp["url"])
    if ap.get("params"):
        url = url.extend_query(query_pairs(ap["params"]))
    headers = CIMultiDict({"User-Agent": user_agent(), "X-Stanley-Action": ctx.action.name})
    headers.update({str(k): str(v) for k, v in (rp.get("headers") or {}).items()})
    if rp.get("username"):
        password = rp.get("password") or ""
        headers["Authorization"] = aiohttp.encode_basic_auth(rp["username"], password)
    body = ap.get("body")
    return HttpCall(
        method=str(ap.get("method") or ("POST" if body else "GET")).upper(),
        url=url,
        headers=headers,
        data=encode_body(body, headers),
        cookies={str(k): str(v) for k, v in (rp.get("cookies") or {}).items()},
        verify_ssl=bool(rp.get("verify_ssl_cert", True)),
        proxies={s: rp[f"{s}_proxy"] for s in ("http", "https") if rp.get(f"{s}_proxy")},
        timeout=float(ap.get("timeout") or ctx.timeout or DEFAULT_TIMEOUT),
        follow=bool(rp.get("allow_redirects")),
        whitelist=tuple(rp.get("url_hosts_whitelist") or ()),
        blacklist=tuple(rp.get("url_hosts_blacklist") or ()),
    )


def encode_body(body: Any, headers: Mapping[str, str]) -> Any:
    """JSON for structured bodies sent as JSON (or lists); other dicts become form fields."""
    if body is None or isinstance(body, str | bytes):
        return body
    if isinstance(body, dict) and "json" not in headers.get("Content-Type", "").lower():
        return {str(k): str(v) for k, v in body.items()}
    if isinstance(body, dict | list):
        return json.dumps(body)
    return str(body)


def query_pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters as pairs; a list value repeats the key, None is left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None:
                pairs.append((str(key), str(item)))
    return pairs


def redirected(call: HttpCall, status: int, target: URL) -> HttpCall:
    """The request a redirect asks for, with the method changes requests makes."""
    method, data = call.method, call.data
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        method, data = "GET", None
    if target.origin() == call.url.origin():
        return replace(call, method=method, url=target, data=data)
    # Credentials and cookies were given for the first host only.
    headers = CIMultiDict((k, v) for k, v in call.headers.items() if k.lower() != "authorization")
    return replace(call, method=method, url=target, data=data, headers=headers, cookies={})


async def response_result(resp: aiohttp.ClientResponse, limit: int) -> RunnerResult:
    buffer = CappedBuffer(limit)
    # Read to the end even past the cap so the marker can say how much was dropped; the
    # request timeout bounds an endless body.
    async for chunk in resp.content.iter_chunked(_CHUNK):
        buffer.add(chunk)
    body, parsed = _decode_body(buffer, resp)
    ok = 200 <= resp.status <= 206
    result = {"status_code": resp.status, "body": body, "parsed": parsed, "headers": _headers(resp)}
    return RunnerResult(ExecutionStatus.SUCCEEDED if ok else ExecutionStatus.FAILED, result)


def _decode_body(buffer: CappedBuffer, resp: aiohttp.ClientResponse) -> tuple[Any, bool]:
    if buffer.dropped:
        return buffer.text(), False
    try:
        text = bytes(buffer.kept).decode(resp.charset or "utf-8", errors="replace")
    except LookupError:
        text = bytes(buffer.kept).decode("utf-8", errors="replace")
    if resp.content_type == "application/json":
        try:
            return json.loads(text), True
        except ValueError:
            pass
    return text, False


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    """Response headers; repeated ones joined with ", " as requests does."""
    return {key: ", ".join(resp.headers.getall(key)) for key in resp.headers}


async def _unless_canceled(work: Awaitable[T], cancel: asyncio.Event) -> T | None:
    """Await ``work`` unless ``cancel`` is set first (then it is canceled and None returned)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    return None if task.cancelled() else task.result()


def _describe(exc: BaseException) -> str:
    """The policy's own message when a block is anywhere in the chain, else the error."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, BlockedAddressError):
            return str(cause)
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _canceled() -> RunnerResult:
    return RunnerResult(ExecutionStatus.CANCELED, {"error": "Action was canceled"})
