"""Webhooks over real HTTP on 127.0.0.1: bot/http/app.py's app on an engine from a temp config."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import test_utils, web

from bot.app import Engine, open_engine
from bot.http import webhooks as webhooks_module
from bot.http.app import build_web_app
from bot.http.webhooks import WebhookRoutes
from bot.settings import load_settings
from bot.settings.schema import HookSettings
from core.models import MASK, utcnow
from core.models.apikey import ApiKey
from core.models.status import ExecutionStatus
from core.models.trigger_instance import TriggerInstance
from core.store.base import ExecutionQuery, StoreError
from core.webhooks.apikeys import MAX_KEY_CHARS, generate_api_key, key_id_of_hash
from core.webhooks.handler import HookAuth

SECRET = "hook-secret"
LIMIT = 4096
RULE = """---
name: {name}
pack: hooks_demo
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: {url}
criteria:
  trigger.body.name:
    type: equals
    pattern: st2
action:
  ref: core.echo
  parameters:
    message: "{{{{ trigger.body.name }}}}"
"""
CONFIG = f"""store:
  url: sqlite:///var/squall.db
packs:
  paths: ['{{packs}}']
http:
  enabled: false
executions:
  max_concurrency: 2
webhooks:
  max_body_bytes: {LIMIT}
  hooks:
    /gh/:
      auth: {{{{preset: github, secret: '${{{{HOOK_SECRET}}}}'}}}}
    open:
      auth: none
"""


def write_pack(root: Path) -> Path:
    rules = root / "packs" / "hooks_demo" / "rules"
    rules.mkdir(parents=True)
    (rules.parent / "pack.yaml").write_text(
        "ref: hooks_demo\nname: hooks_demo\ndescription: webhook tests\nversion: 0.1.0\n"
        "author: Squall tests\n"
    )
    for name, url in (("gh", "gh"), ("open", "/open/"), ("noauth", "noauth")):
        (rules / f"{name}.yaml").write_text(RULE.format(name=name, url=url))
    return root / "packs"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    config = tmp_path / "squall.yaml"
    config.write_text(CONFIG.format(packs=write_pack(tmp_path)))
    settings = load_settings(config, env={"HOOK_SECRET": SECRET})
    async with open_engine(settings) as opened:
        yield opened


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[test_utils.TestClient[Any, Any]]:
    server = test_utils.TestServer(build_web_app(engine), host="127.0.0.1")
    async with test_utils.TestClient(server) as opened:
        yield opened


def signed(body: bytes, delivery: str = "d-1") -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": delivery,
    }


async def instances(engine: Engine, hook: str) -> list[TriggerInstance]:
    found = await engine.store.trigger_instances.list(limit=100)
    return [i for i in found if i.source == f"webhook:{hook}"]


Client = test_utils.TestClient[Any, Any]
BODY = json.dumps({"name": "nobody"}).encode()


async def test_unsigned_github_hook_is_401(client: Client, engine: Engine) -> None:
    resp = await client.post("/api/v1/webhooks/gh", data=BODY)
    assert resp.status == 401
    assert "missing header" in (await resp.json())["faultstring"]
    assert await instances(engine, "gh") == []


async def test_signed_github_hook_is_202_and_persisted(client: Client, engine: Engine) -> None:
    resp = await client.post("/api/v1/webhooks/gh/", data=BODY, headers=signed(BODY))
    assert resp.status == 202
    assert await resp.json() == {"name": "nobody"}
    [stored] = await instances(engine, "gh")
    assert stored.trigger == "core.st2.webhook"
    assert stored.dedupe_key == "gh:d-1"
    assert stored.payload["body"] == {"name": "nobody"}
    assert stored.payload["headers_lower"]["x-hub-signature-256"] == MASK
    assert stored.payload["headers_lower"]["x-github-delivery"] == "d-1"


async def test_one_changed_byte_is_refused_and_nothing_stored(
    client: Client, engine: Engine
) -> None:
    tampered = BODY.replace(b"nobody", b"nobodY")
    resp = await client.post("/api/v1/webhooks/gh", data=tampered, headers=signed(BODY))
    assert resp.status == 403
    text = await resp.text()
    assert "signature mismatch" in text and SECRET not in text
    assert await instances(engine, "gh") == []


async def test_a_replayed_delivery_is_acknowledged_once(client: Client, engine: Engine) -> None:
    for _ in range(2):
        resp = await client.post("/api/v1/webhooks/gh", data=BODY, headers=signed(BODY))
        assert resp.status == 202
    assert len(await instances(engine, "gh")) == 1


async def test_an_oversized_body_is_413_and_nothing_stored(client: Client, engine: Engine) -> None:
    big = json.dumps({"pad": "x" * LIMIT}).encode()
    resp = await client.post("/api/v1/webhooks/gh", data=big, headers=signed(big))
    assert resp.status == 413
    assert await instances(engine, "gh") == []


async def test_a_chunked_body_over_the_cap_is_413(client: Client, engine: Engine) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 1024

    headers = {"Content-Type": "application/json"}
    resp = await client.post("/api/v1/webhooks/open", data=chunks(), headers=headers)
    assert resp.status == 413
    assert await instances(engine, "open") == []


async def test_unknown_hook_is_404_for_key_holders_only(client: Client, engine: Engine) -> None:
    assert (await client.post("/api/v1/webhooks/nope", json={})).status == 401
    plaintext, _ = await create_key(engine)
    headers = {"St2-Api-Key": plaintext}
    resp = await client.post("/api/v1/webhooks/nope", json={}, headers=headers)
    assert resp.status == 404
    assert (await resp.json())["faultstring"] == "Webhook nope not registered with st2"


async def create_key(engine: Engine) -> tuple[str, ApiKey]:
    """What ``squall apikey create`` does: the plaintext for the caller, the hash stored."""
    plaintext, stored = generate_api_key()
    key = ApiKey(id=key_id_of_hash(stored), key_hash=stored, created_at=utcnow(), name="test")
    await engine.store.api_keys.insert(key)
    return plaintext, key


async def test_a_hook_without_auth_settings_needs_an_api_key(
    client: Client, engine: Engine
) -> None:
    resp = await client.post("/api/v1/webhooks/noauth", json={"name": "st2"})
    assert resp.status == 401
    assert "St2-Api-Key" in (await resp.json())["faultstring"]
    wrong = await client.post(
        "/api/v1/webhooks/noauth", json={"name": "st2"}, headers={"St2-Api-Key": "sqk_nope"}
    )
    assert (wrong.status, await wrong.json()) == (
        401,
        {"faultstring": "invalid or revoked API key"},
    )
    huge = {"X-Auth-Token": "k" * (MAX_KEY_CHARS + 1)}
    resp = await client.post("/api/v1/webhooks/noauth", json={"name": "st2"}, headers=huge)
    assert resp.status == 401
    assert await instances(engine, "noauth") == []


async def test_a_valid_api_key_runs_the_rule_and_is_never_stored(
    client: Client, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    plaintext, _ = await create_key(engine)
    caplog.set_level(logging.DEBUG)
    headers = {"St2-Api-Key": plaintext, "Cookie": "session=abc"}
    resp = await client.post("/api/v1/webhooks/noauth", json={"name": "st2"}, headers=headers)
    assert resp.status == 202
    execution = await wait_for_echo(engine)
    assert execution["stdout"] == "st2"
    [stored] = await instances(engine, "noauth")
    # Removed, as st2 removes them; not merely masked.
    assert "st2-api-key" not in stored.payload["headers_lower"]
    assert "cookie" not in stored.payload["headers_lower"]
    assert not {"St2-Api-Key", "Cookie"} & set(stored.payload["headers"])
    assert plaintext not in json.dumps(stored.to_doc()) and plaintext not in caplog.text


@pytest.mark.parametrize(
    ("header", "query"),
    [("X-Auth-Token", None), ("st2-api-key", None), (None, "st2-api-key"), (None, "x-auth-token")],
)
async def test_st2_header_and_query_fallbacks_are_accepted(
    client: Client, engine: Engine, header: str | None, query: str | None
) -> None:
    plaintext, _ = await create_key(engine)
    resp = await client.post(
        "/api/v1/webhooks/noauth",
        json={"name": "x"},
        headers={header: plaintext} if header else {},
        params={query: plaintext} if query else {},
    )
    assert resp.status == 202
    [stored] = await instances(engine, "noauth")
    assert plaintext not in json.dumps(stored.to_doc())


async def test_a_revoked_key_is_refused_at_once(client: Client, engine: Engine) -> None:
    plaintext, key = await create_key(engine)
    headers = {"St2-Api-Key": plaintext}
    ok = await client.post("/api/v1/webhooks/noauth", json={"name": "x"}, headers=headers)
    assert ok.status == 202
    assert await engine.store.api_keys.revoke(key.id, utcnow())
    refused = await client.post("/api/v1/webhooks/noauth", json={"name": "y"}, headers=headers)
    assert refused.status == 401
    assert len(await instances(engine, "noauth")) == 1


async def test_signature_and_open_hooks_ignore_api_keys(client: Client, engine: Engine) -> None:
    plaintext, _ = await create_key(engine)
    # A key is no substitute for a configured signature.
    resp = await client.post("/api/v1/webhooks/gh", data=BODY, headers={"St2-Api-Key": plaintext})
    assert resp.status == 401 and "missing header" in (await resp.json())["faultstring"]
    assert (await client.post("/api/v1/webhooks/open", json={})).status == 202


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'"just a string"', "application/json"),
        (b"[" * 2000 + b"]" * 2000, "application/json"),
        (b"[" * 100 + b"]" * 100, "application/json"),
        (b"\x00\x01", "application/octet-stream"),
        (b"\xff\xfe", "text/plain"),
    ],
)
async def test_bad_bodies_are_400_never_500(
    client: Client, engine: Engine, data: bytes, content_type: str
) -> None:
    plaintext, _ = await create_key(engine)  # an authenticated hook: any content type
    headers = {"Content-Type": content_type, "St2-Api-Key": plaintext}
    resp = await client.post("/api/v1/webhooks/noauth", data=data, headers=headers)
    assert resp.status == 400
    assert await instances(engine, "noauth") == []


async def test_form_bodies_are_dicts_of_lists(client: Client, engine: Engine) -> None:
    plaintext, _ = await create_key(engine)
    headers = {"St2-Api-Key": plaintext}
    resp = await client.post("/api/v1/webhooks/noauth", data={"name": "st2"}, headers=headers)
    assert resp.status == 202
    [stored] = await instances(engine, "noauth")
    assert stored.payload["body"] == {"name": ["st2"]}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b'{"name": "st2"}', "text/plain"),
        (b"name=st2", "application/x-www-form-urlencoded"),
        (b"--x\r\n", "multipart/form-data; boundary=x"),
        (b'{"name": "st2"}', ""),
    ],
)
async def test_a_cross_site_simple_post_to_an_auth_none_hook_is_refused(
    client: Client, engine: Engine, data: bytes, content_type: str
) -> None:
    """What a web page open in a browser on this host can send without a CORS preflight."""
    headers = {"Content-Type": content_type, "Origin": "https://attacker.example"}
    resp = await client.post("/api/v1/webhooks/open", data=data, headers=headers)
    assert resp.status == 415
    assert "application/json" in (await resp.json())["faultstring"]
    assert await instances(engine, "open") == []


async def test_auth_none_hook_runs_the_rule_end_to_end(client: Client, engine: Engine) -> None:
    resp = await client.post("/api/v1/webhooks/open", json={"name": "st2"})
    assert resp.status == 202
    assert await resp.json() == {"name": "st2"}
    execution = await wait_for_echo(engine)
    assert execution["status"] == ExecutionStatus.SUCCEEDED
    assert execution["stdout"] == "st2"


async def wait_for_echo(engine: Engine) -> dict[str, Any]:
    query = ExecutionQuery(action_ref="core.echo")
    for _ in range(600):
        for execution in await engine.store.executions.list(query):
            if execution.status == ExecutionStatus.SUCCEEDED and execution.result:
                return {"status": execution.status, "stdout": execution.result["stdout"]}
        await asyncio.sleep(0.05)
    # Say where it stopped: no instance, no enforcement, or an execution that failed.
    instances = [i.status for i in await engine.store.trigger_instances.list()]
    enforcements = [e.failure_reason for e in await engine.store.rule_enforcements.list()]
    executions = [(e.status, e.result) for e in await engine.store.executions.list(query)]
    raise AssertionError(f"no echo: {instances=} {enforcements=} {executions=}")


async def test_generic_st2_hook_follows_the_same_auth_rules(client: Client, engine: Engine) -> None:
    sent = {"trigger": "core.st2.webhook", "payload": {"a": 1}}
    resp = await client.post("/api/v1/webhooks/st2", json=sent)
    assert resp.status == 401
    plaintext, _ = await create_key(engine)
    resp = await client.post("/api/v1/webhooks/st2", json=sent, headers={"St2-Api-Key": plaintext})
    assert resp.status == 202
    [stored] = await instances(engine, "st2")
    assert stored.payload == {"a": 1}


async def test_generic_st2_hook_dispatches_the_named_trigger(engine: Engine) -> None:
    hooks = {**engine.settings.webhooks.hooks, "st2": HookSettings(auth=HookAuth(kind="none"))}
    webhooks = dataclasses.replace(engine.settings.webhooks, hooks=hooks)
    opened = dataclasses.replace(
        engine, settings=dataclasses.replace(engine.settings, webhooks=webhooks)
    )
    app = build_web_app(opened)
    async with test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1")) as client:
        url = "/api/v1/webhooks/st2"
        missing = await client.post(url, json={"payload": {}})
        assert (missing.status, (await missing.json())["faultstring"]) == (
            400,
            "Trigger not specified.",
        )
        unknown = await client.post(url, json={"trigger": "no.such", "payload": {}})
        assert unknown.status == 400
        sent = {"trigger": "core.st2.webhook", "payload": {"a": 1}}
        resp = await client.post(url, json=sent)
        assert resp.status == 202 and await resp.json() == sent
    [stored] = await instances(engine, "st2")
    assert stored.payload == {"a": 1}


async def test_listing_shows_hooks_and_auth_kinds_to_key_holders(
    client: Client, engine: Engine
) -> None:
    assert (await client.get("/api/v1/webhooks")).status == 401
    assert (await client.get("/api/v1/webhooks/gh")).status == 401
    plaintext, _ = await create_key(engine)
    client.session.headers["St2-Api-Key"] = plaintext
    resp = await client.get("/api/v1/webhooks")
    assert resp.status == 200
    listed = await resp.json()
    assert [{"url": h["url"], "auth": h["auth"]} for h in listed] == [
        {"url": "gh", "auth": "github"},
        {"url": "noauth", "auth": "api-key"},
        {"url": "open", "auth": "none"},
        {"url": "st2", "auth": "api-key"},
    ]
    # st2's shape too: `st2 webhook list` reads parameters.url.
    assert {h["type"] for h in listed} == {"core.st2.webhook"}
    assert [h["parameters"]["url"] for h in listed] == ["gh", "noauth", "open", "st2"]
    one = await client.get("/api/v1/webhooks/gh/")
    assert one.status == 200
    assert {k: v for k, v in (await one.json()).items() if k in ("url", "auth")} == {
        "url": "gh",
        "auth": "github",
    }
    assert (await client.get("/api/v1/webhooks/nope")).status == 404


class BrokenDispatcher:
    async def dispatch(
        self,
        trigger_ref: str,
        payload: dict[str, Any],
        *,
        trigger_parameters: dict[str, Any] | None = None,
        source: str = "",
        dedupe_key: str | None = None,
        trace_tag: str | None = None,
    ) -> TriggerInstance | None:
        raise ConnectionError("store is down")


async def test_a_failed_dispatch_is_503_never_202(engine: Engine) -> None:
    app = build_web_app(engine, dispatcher=BrokenDispatcher())
    async with test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1")) as client:
        resp = await client.post("/api/v1/webhooks/open", json={"name": "st2"})
        assert resp.status == 503
        assert "retry" in (await resp.json())["faultstring"]


class BrokenKeys:
    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        raise ConnectionError("store is down")


async def test_a_failed_key_lookup_is_503_never_202(engine: Engine) -> None:
    app = web.Application()
    WebhookRoutes(engine.settings.webhooks, engine.rules, engine.triggers, BrokenKeys()).register(
        app
    )
    async with test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1")) as client:
        headers = {"St2-Api-Key": "sqk_whatever"}
        resp = await client.post("/api/v1/webhooks/noauth", json={"name": "st2"}, headers=headers)
        assert resp.status == 503
        assert "retry" in (await resp.json())["faultstring"]
    assert await instances(engine, "noauth") == []


# --- deliveries go past the app's other middlewares ---------------------------------------------


async def test_deliveries_skip_the_other_middlewares_that_have_nothing_to_do_for_them(
    engine: Engine,
) -> None:
    app = build_web_app(engine)
    seen: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(f"{request.method} {request.path}")
        return await handler(request)

    app.middlewares.append(record)
    async with test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1")) as client:
        assert (await client.post("/api/v1/webhooks/open", json={"name": "x"})).status == 202
        # Everything else still goes through them: the API's auth, for one.
        assert (await client.get("/api/v1/webhooks")).status == 401
        assert (await client.get("/healthz")).status == 200
        assert (await client.post("/api/v1/webhooks", json={})).status == 405
    assert seen == ["GET /healthz", "POST /api/v1/webhooks"]


@pytest.mark.parametrize("api", [True, False])
@pytest.mark.parametrize(
    ("raised", "status", "message"),
    [
        (RuntimeError("boom"), 500, "Internal Server Error"),
        (ValueError("bad value"), 400, "bad value"),
        (StoreError("disk"), 503, "The store is unavailable; retry later"),
    ],
)
async def test_an_unexpected_failure_of_a_delivery_has_the_api_error_shape(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    api: bool,
    raised: Exception,
    status: int,
    message: str,
) -> None:
    # What the API's error middleware answered before deliveries went past it; now without
    # the API too (aiohttp's own answer was a text/plain 500).
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr(webhooks_module, "build_payload", broken)
    if api:
        app = build_web_app(engine)
    else:
        app = web.Application()
        WebhookRoutes(
            engine.settings.webhooks, engine.rules, engine.triggers, engine.store.api_keys
        ).register(app)
    async with test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1")) as client:
        resp = await client.post("/api/v1/webhooks/open", json={"name": "x"})
        assert resp.status == status
        assert await resp.json() == {"faultstring": message}
    assert await instances(engine, "open") == []
