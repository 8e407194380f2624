"""The web console's cookies are ``Secure`` when the browser reached Squall over HTTPS: the
listener speaks plain HTTP, so only a proxy listed in ``http.trusted_proxies`` may say so
(``X-Forwarded-Proto`` or RFC 7239 ``Forwarded: proto=``); anyone else's header is ignored.
``http.secure_cookies: always`` makes them Secure whatever the request says."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_engine
from bot.http.app import build_web_app
from bot.settings import load_settings
from bot.settings.errors import SettingsError

PASSWORD = "alice-signs-in-over-tls"
HTTPS = {"X-Forwarded-Proto": "https"}


def write_config(tmp_path: Path, http: str = "") -> Path:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"http: {{enabled: true{http}}}\n"
        "users: {alice: {roles: [admin]}}\n"
    )
    return config


@contextlib.asynccontextmanager
async def console(tmp_path: Path, http: str = "") -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with open_engine(load_settings(write_config(tmp_path, http))) as engine:
        await engine.auth.set_password("alice", PASSWORD)
        client = TestClient(TestServer(build_web_app(engine), host="127.0.0.1"))
        await client.start_server()
        try:
            yield client
        finally:
            await client.close()


def cookies(response: object) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie of ``response`` by name, with its attributes."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.getall("Set-Cookie", []):  # type: ignore[attr-defined]
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            found[name] = {"value": morsel.value} | {k: morsel[k] for k in morsel if morsel[k]}
    return found


async def sign_in(client: TestClient, headers: dict[str, str]) -> dict[str, dict[str, str | bool]]:  # type: ignore[type-arg]
    """The login form, then the password: the cookies of both answers."""
    form = await client.get("/ui/login", headers=headers)
    assert form.status == 200
    nonce = re.search(r'name="nonce" value="([^"]+)"', await form.text())
    assert nonce is not None
    posted = await client.post(
        "/ui/login",
        data={"nonce": nonce[1], "username": "alice", "password": PASSWORD},
        headers={**headers, "Cookie": f"squall_login={nonce[1]}"},
        allow_redirects=False,
    )
    assert posted.status == 303, await posted.text()
    return {**cookies(form), **cookies(posted)}


@pytest.mark.parametrize(
    "headers",
    [{}, HTTPS, {"Forwarded": "for=203.0.113.9;proto=https"}],
    ids=["plain", "x-forwarded-proto", "forwarded"],
)
async def test_an_untrusted_peer_cannot_make_the_cookie_secure(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    async with console(tmp_path) as client:
        set = await sign_in(client, headers)
    session = set["squall_session"]
    assert session.get("httponly") and session["samesite"] == "Strict"
    assert "secure" not in session and "secure" not in set["squall_login"]


@pytest.mark.parametrize(
    ("headers", "secure"),
    [
        (HTTPS, True),
        ({"Forwarded": "for=203.0.113.9;proto=https"}, True),
        ({"X-Forwarded-Proto": "http"}, False),
        ({"X-Forwarded-Proto": "https, http"}, False),  # the nearest proxy's word counts
        ({}, False),
    ],
    ids=["x-forwarded-proto", "forwarded", "http", "nearest-http", "none"],
)
async def test_a_trusted_proxy_saying_https_makes_the_cookies_secure(
    tmp_path: Path, headers: dict[str, str], secure: bool
) -> None:
    async with console(tmp_path, ", trusted_proxies: ['127.0.0.1', '10.0.0.0/8']") as client:
        set = await sign_in(client, headers)
        session = set["squall_session"]
        signed_in = {**headers, "Cookie": f"squall_session={session['value']}"}
        page = await client.get("/ui/executions", headers=signed_in)
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert page.status == 200 and csrf is not None
        out = await client.post(
            "/ui/logout", data={"csrf": csrf[1]}, headers=signed_in, allow_redirects=False
        )
        assert out.status == 303
        removed = cookies(out)["squall_session"]
    assert bool(session.get("secure")) is secure
    assert bool(set["squall_login"].get("secure")) is secure
    assert bool(removed.get("secure")) is secure and removed["max-age"] == "0"
    assert session.get("httponly") and session["samesite"] == "Strict"


async def test_always_makes_them_secure_without_any_header(tmp_path: Path) -> None:
    async with console(tmp_path, ", secure_cookies: always") as client:
        set = await sign_in(client, {})
    assert set["squall_session"].get("secure") and set["squall_login"].get("secure")


def test_a_trusted_proxy_that_is_no_address_is_refused_with_its_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write_config(tmp_path, ", trusted_proxies: ['proxy.example.com']"))
    [error] = caught.value.errors
    assert error.startswith("http.trusted_proxies: expected IP addresses or networks")
