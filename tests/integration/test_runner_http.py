"""The http-request runner against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.models import Action, ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.http import HttpRequestRunner, user_agent
from core.runners.ssrf import HttpPolicy

S = ExecutionStatus
WAIT = 10.0  # upper bound for anything a test waits on; never reached when things work


@dataclass
class Server:
    base: str
    hits: list[str] = field(default_factory=list)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)


def _app(server: Server) -> web.Application:
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        server.hits.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    async def json_route(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "query": [[k, v] for k, v in request.query.items()],
                "headers": dict(request.headers),
                "cookies": dict(request.cookies),
                "body": await request.text(),
            }
        )

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status body")

    async def redirect(request: web.Request) -> web.Response:
        code = int(request.query.get("code", "302"))
        return web.Response(status=code, headers={"Location": request.query["to"]})

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    async def slow(request: web.Request) -> web.Response:
        server.slow_started.set()
        await asyncio.sleep(300)
        return web.Response(text="late")

    async def auth(request: web.Request) -> web.Response:
        ok = request.headers.get("Authorization") == "Basic dXNlcjpzM2NyZXQ="  # user:s3cret
        return web.json_response({"ok": ok}, status=200 if ok else 401)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 1000, content_type="application/json")

    async def cookies(request: web.Request) -> web.Response:
        response = web.Response(text="plain text")
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    app = web.Application(middlewares=[web.middleware(record)])
    app.router.add_get("/json", json_route)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_route("*", "/redirect", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/slow", slow)
    app.router.add_get("/auth", auth)
    app.router.add_get("/big", big)
    app.router.add_get("/cookies", cookies)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(base="")
    app_runner = web.AppRunner(_app(state), shutdown_timeout=0.5)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0)
    await site.start()
    host, port = app_runner.addresses[0][:2]
    state.base = f"http://{host}:{port}"
    yield state
    await app_runner.cleanup()


@pytest.fixture
async def runner() -> AsyncIterator[HttpRequestRunner]:
    made = HttpRequestRunner()
    yield made
    await made.close()


def _ctx(
    url: str, action_parameters: Mapping[str, Any] | None = None, **runner_parameters: Any
) -> RunContext:
    action = Action(pack="core", name="http", runner_type="http-request", pack_path=Path("/"))
    return RunContext(
        execution_id="ex1",
        action=action,
        runner_parameters={"url": url, **runner_parameters},
        action_parameters=action_parameters or {},
    )


async def _run(runner: HttpRequestRunner, ctx: RunContext) -> RunnerResult:
    async with asyncio.timeout(WAIT):
        return await runner.run(ctx)


async def _run_with(policy: HttpPolicy, ctx: RunContext) -> RunnerResult:
    runner = HttpRequestRunner(policy)
    try:
        return await _run(runner, ctx)
    finally:
        await runner.close()


async def test_get_json(server: Server, runner: HttpRequestRunner) -> None:
    result = await _run(runner, _ctx(f"{server.base}/json"))
    assert result.status is S.SUCCEEDED
    assert result.result["status_code"] == 200
    assert result.result["body"] == {"hello": "world"}
    assert result.result["parsed"] is True
    assert result.result["headers"]["Content-Type"].startswith("application/json")


async def test_post_json_body_defaults_to_post(server: Server, runner: HttpRequestRunner) -> None:
    ctx = _ctx(
        f"{server.base}/echo",
        {"body": {"a": 1, "b": [True, None]}},
        headers={"Content-Type": "application/json"},
    )
    echoed = (await _run(runner, ctx)).result["body"]
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"a": 1, "b": [true, null]}'


async def test_dict_body_without_json_type_is_a_form(
    server: Server, runner: HttpRequestRunner
) -> None:
    ctx = _ctx(f"{server.base}/echo", {"method": "put", "body": {"a": "1 2"}})
    echoed = (await _run(runner, ctx)).result["body"]
    assert echoed["method"] == "PUT"
    assert echoed["body"] == "a=1+2"
    assert echoed["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


async def test_query_params(server: Server, runner: HttpRequestRunner) -> None:
    params = {"q": "a b&c", "n": [1, 2], "skip": None}
    result = await _run(runner, _ctx(f"{server.base}/echo?x=0", {"params": params}))
    assert result.result["body"]["query"] == [["x", "0"], ["q", "a b&c"], ["n", "1"], ["n", "2"]]


async def test_headers_and_cookies_sent(server: Server, runner: HttpRequestRunner) -> None:
    ctx = _ctx(f"{server.base}/echo", headers={"X-Custom": "yes"}, cookies={"session": "abc"})
    echoed = (await _run(runner, ctx)).result["body"]
    assert echoed["headers"]["X-Custom"] == "yes"
    assert echoed["headers"]["User-Agent"] == user_agent()
    assert user_agent().startswith("squall/")
    assert echoed["headers"]["X-Stanley-Action"] == "http"
    assert echoed["cookies"] == {"session": "abc"}


async def test_cookies_do_not_leak_between_executions(
    server: Server, runner: HttpRequestRunner
) -> None:
    first = await _run(runner, _ctx(f"{server.base}/cookies"))
    assert first.result["body"] == "plain text" and first.result["parsed"] is False
    # Both Set-Cookie headers, joined into one value.
    assert first.result["headers"]["Set-Cookie"] == "a=1; Path=/, b=2; Path=/"
    second = await _run(runner, _ctx(f"{server.base}/echo"))
    assert second.result["body"]["cookies"] == {}


async def test_404_fails(server: Server, runner: HttpRequestRunner) -> None:
    result = await _run(runner, _ctx(f"{server.base}/status/404"))
    assert result.status is S.FAILED
    assert result.result["status_code"] == 404
    assert result.result["body"] == "status body"


async def test_206_succeeds_207_fails(server: Server, runner: HttpRequestRunner) -> None:
    assert (await _run(runner, _ctx(f"{server.base}/status/206"))).status is S.SUCCEEDED
    assert (await _run(runner, _ctx(f"{server.base}/status/207"))).status is S.FAILED


async def test_redirect_not_followed_by_default(server: Server, runner: HttpRequestRunner) -> None:
    result = await _run(runner, _ctx(f"{server.base}/redirect?to=/json"))
    assert result.status is S.FAILED
    assert result.result["status_code"] == 302
    assert result.result["headers"]["Location"] == "/json"
    assert server.hits == ["/redirect"]


async def test_redirect_followed_when_allowed(server: Server, runner: HttpRequestRunner) -> None:
    ctx = _ctx(f"{server.base}/redirect?to=/json", allow_redirects=True)
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED
    assert result.result["body"] == {"hello": "world"}
    assert server.hits == ["/redirect", "/json"]


async def test_303_turns_post_into_get(server: Server, runner: HttpRequestRunner) -> None:
    ctx = _ctx(f"{server.base}/redirect?code=303&to=/echo", {"body": "data"}, allow_redirects=True)
    echoed = (await _run(runner, ctx)).result["body"]
    assert (echoed["method"], echoed["body"]) == ("GET", "")


async def test_307_keeps_method_and_body(server: Server, runner: HttpRequestRunner) -> None:
    ctx = _ctx(f"{server.base}/redirect?code=307&to=/echo", {"body": "data"}, allow_redirects=True)
    echoed = (await _run(runner, ctx)).result["body"]
    assert (echoed["method"], echoed["body"]) == ("POST", "data")


async def test_redirect_to_metadata_address_blocked(
    server: Server, runner: HttpRequestRunner
) -> None:
    target = "http://169.254.169.254/latest/meta-data/"
    ctx = _ctx(f"{server.base}/redirect?to={target}", allow_redirects=True)
    result = await _run(runner, ctx)
    assert result.status is S.FAILED
    assert result.result["error"] == (
        "request to 169.254.169.254 (169.254.169.254) blocked: "
        "169.254.169.254 is in denied network 169.254.0.0/16"
    )


async def test_redirect_to_denied_loopback_address_blocked(server: Server) -> None:
    # 127.0.0.2 is a real loopback address here; the policy, not the network, stops the hop.
    policy = HttpPolicy(denied_networks=("127.0.0.2/32",))
    port = server.base.rsplit(":", 1)[1]
    target = f"http://0x7f.0.0.2:{port}/json"
    ctx = _ctx(f"{server.base}/redirect?to={target}", allow_redirects=True)
    result = await _run_with(policy, ctx)
    assert result.status is S.FAILED
    assert "0x7f.0.0.2 (127.0.0.2) blocked" in result.result["error"]
    assert server.hits == ["/redirect"]


async def test_strict_policy_blocks_names_resolving_inside(server: Server) -> None:
    port = server.base.rsplit(":", 1)[1]
    result = await _run_with(HttpPolicy.strict(), _ctx(f"http://localhost:{port}/json"))
    assert result.status is S.FAILED
    assert result.result["error"].startswith("request to localhost (")
    assert "is in denied network" in result.result["error"]
    assert server.hits == []


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "127.1", "[::ffff:127.0.0.1]"])
async def test_strict_policy_blocks_literal_spellings(server: Server, host: str) -> None:
    port = server.base.rsplit(":", 1)[1]
    result = await _run_with(HttpPolicy.strict(), _ctx(f"http://{host}:{port}/json"))
    assert result.status is S.FAILED
    assert "127.0.0.1 is in denied network 127.0.0.0/8" in result.result["error"]
    assert server.hits == []


async def test_allowed_network_exception(server: Server) -> None:
    policy = HttpPolicy.strict(allowed_networks=("127.0.0.1/32",))
    result = await _run_with(policy, _ctx(f"{server.base}/json"))
    assert result.status is S.SUCCEEDED


async def test_credentials_dropped_on_cross_origin_redirect(
    server: Server, runner: HttpRequestRunner
) -> None:
    port = server.base.rsplit(":", 1)[1]
    auth: dict[str, Any] = {"username": "user", "password": "s3cret", "cookies": {"c": "1"}}
    same = _ctx(f"{server.base}/redirect?to=/echo", allow_redirects=True, **auth)
    kept = (await _run(runner, same)).result["body"]
    assert kept["headers"]["Authorization"] == "Basic dXNlcjpzM2NyZXQ="
    assert kept["cookies"] == {"c": "1"}
    other = f"http://localhost:{port}/echo"
    cross = _ctx(f"{server.base}/redirect?to={other}", allow_redirects=True, **auth)
    dropped = (await _run(runner, cross)).result["body"]
    assert "Authorization" not in dropped["headers"]
    assert dropped["cookies"] == {}


async def test_proxy_is_used_and_checked(server: Server, runner: HttpRequestRunner) -> None:
    # Nothing listens on port 1: only the proxy (our server) can answer.
    proxied = await _run(runner, _ctx("http://127.0.0.1:1/json", http_proxy=server.base))
    assert proxied.status is S.SUCCEEDED and proxied.result["body"] == {"hello": "world"}
    # The proxy would fetch a denied address for us: refused before anything is sent.
    metadata = _ctx("http://169.254.169.254/", http_proxy=server.base)
    blocked = await _run(runner, metadata)
    assert blocked.status is S.FAILED and "169.254.169.254" in blocked.result["error"]
    bad_proxy = await _run(runner, _ctx(f"{server.base}/json", http_proxy="http://0.0.0.0:1"))
    assert bad_proxy.status is S.FAILED and "0.0.0.0" in bad_proxy.result["error"]
    assert server.hits == ["/json"]


async def test_redirect_loop_is_bounded(server: Server, runner: HttpRequestRunner) -> None:
    result = await _run(runner, _ctx(f"{server.base}/loop", allow_redirects=True))
    assert result.status is S.FAILED
    assert result.result["error"] == "more than 10 redirects"
    assert len(server.hits) == 11


async def test_per_action_host_lists(server: Server, runner: HttpRequestRunner) -> None:
    url = f"{server.base}/json"
    denied = await _run(runner, _ctx(url, url_hosts_blacklist=["127.0.0.1"]))
    assert denied.status is S.FAILED and "blacklist" in denied.result["error"]
    not_listed = await _run(runner, _ctx(url, url_hosts_whitelist=["example.com"]))
    assert not_listed.status is S.FAILED and "whitelist" in not_listed.result["error"]
    listed = await _run(runner, _ctx(url, url_hosts_whitelist=["127.0.0.1"]))
    assert listed.status is S.SUCCEEDED
    # A redirect hop is checked against the lists too.
    hop = await _run(
        runner,
        _ctx(
            f"{server.base}/redirect?to=http://localhost:1/",
            allow_redirects=True,
            url_hosts_whitelist=["127.0.0.1"],
        ),
    )
    assert (
        hop.status is S.FAILED and "localhost is not in url_hosts_whitelist" in hop.result["error"]
    )
    assert server.hits == ["/json", "/redirect"]


async def test_scheme_not_allowed(runner: HttpRequestRunner) -> None:
    result = await _run(runner, _ctx("file:///etc/passwd"))
    assert result.status is S.FAILED and "scheme 'file'" in result.result["error"]


async def test_timeout(server: Server, runner: HttpRequestRunner) -> None:
    result = await _run(runner, _ctx(f"{server.base}/slow", {"timeout": 0.3}))
    assert result.status is S.TIMEOUT
    assert "timed out after 0.3 seconds" in result.result["error"]


async def test_cancel(server: Server, runner: HttpRequestRunner) -> None:
    ctx = _ctx(f"{server.base}/slow")
    task = asyncio.create_task(runner.run(ctx))
    async with asyncio.timeout(WAIT):
        await server.slow_started.wait()
        ctx.cancel.set()
        result = await task
    assert result.status is S.CANCELED


async def test_basic_auth(server: Server, runner: HttpRequestRunner) -> None:
    ok = await _run(runner, _ctx(f"{server.base}/auth", username="user", password="s3cret"))
    assert ok.status is S.SUCCEEDED and ok.result["body"] == {"ok": True}
    wrong = await _run(runner, _ctx(f"{server.base}/auth", username="user", password="x"))
    assert wrong.status is S.FAILED and wrong.result["status_code"] == 401


async def test_body_cap(server: Server, runner: HttpRequestRunner) -> None:
    ctx = _ctx(f"{server.base}/big")
    ctx = RunContext(**{**ctx.__dict__, "output_limit_bytes": 100})
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED
    assert result.result["parsed"] is False
    assert result.result["body"] == (
        "x" * 100 + "\n...[output truncated: 900 bytes over the 100-byte limit]"
    )


async def test_connection_error(runner: HttpRequestRunner) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await _run(runner, _ctx(f"http://127.0.0.1:{port}/"))
    assert result.status is S.FAILED
    assert f"127.0.0.1:{port}" in result.result["error"]


async def test_missing_url(runner: HttpRequestRunner) -> None:
    result = await _run(runner, _ctx(""))
    assert result == RunnerResult(S.FAILED, {"error": "url is required"})
