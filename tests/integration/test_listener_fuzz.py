"""Bad input is a 4xx, never a 5xx (security.md rows 20 and 48), on a real listener.

The attack run got a 503 for a JSON body holding a lone surrogate (``{"a":"\\ud800"}``: a
provider would retry it forever) and a 500 for ``Content-Encoding: gzip`` with a garbage body.
Then hypothesis throws bodies, encodings, content types, headers and paths at the listener
(a real aiohttp server on 127.0.0.1 in its own thread, requests over real sockets): nothing
answers 5xx, since the store can write.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.client
import threading
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import open_engine
from bot.http.app import build_web_app
from bot.http.listener import listening
from bot.settings import load_settings

CONFIG = """store:
  url: sqlite:///var/squall.db
http:
  enabled: false
executions:
  max_concurrency: 2
  python_fork_server: false
webhooks:
  max_body_bytes: 4096
  hooks:
    open: {auth: none}
"""
RULE = """---
name: open
pack: fuzz_demo
enabled: true
trigger: {type: core.st2.webhook, parameters: {url: open}}
action: {ref: core.noop}
"""


class Listener:
    """An engine and its web app serving in a background thread until ``stop``."""

    def __init__(self, root: Path) -> None:
        rules = root / "packs" / "fuzz_demo" / "rules"
        rules.mkdir(parents=True)
        (rules.parent / "pack.yaml").write_text(
            "ref: fuzz_demo\nname: fuzz_demo\ndescription: d\nversion: 0.1.0\nauthor: t\n"
        )
        (rules / "open.yaml").write_text(RULE)
        config = root / "squall.yaml"
        config.write_text(CONFIG + f"packs: {{paths: ['{root / 'packs'}']}}\n")
        self.settings = load_settings(config)
        self.port = 0
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by the fixture
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        async with (
            open_engine(self.settings) as engine,
            listening(build_web_app(engine), replace(self.settings.http, port=0)) as port,
        ):
            self.port = port
            self.ready.set()
            await self.stopping.wait()

    def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.loop is not None and self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    served = Listener(tmp_path_factory.mktemp("fuzz"))
    served.thread.start()
    assert served.ready.wait(timeout=60), "listener did not start"
    if served.error is not None:
        raise served.error
    try:
        yield served
    finally:
        with contextlib.suppress(Exception):
            served.stop()


JSON = {"Content-Type": "application/json"}


def test_a_lone_surrogate_in_json_is_a_400(listener: Listener) -> None:
    status, body = listener.request("POST", "/api/v1/webhooks/open", b'{"a":"\\ud800"}', JSON)
    assert status == 400, body
    assert b"surrogate" in body


def test_a_garbage_gzip_body_is_a_400(listener: Listener) -> None:
    headers = {**JSON, "Content-Encoding": "gzip"}
    status, body = listener.request("POST", "/api/v1/webhooks/open", b"not gzip at all", headers)
    assert status == 400, body
    good = gzip.compress(b'{"name": "x"}')
    assert listener.request("POST", "/api/v1/webhooks/open", good, headers)[0] == 202


def test_header_bytes_that_are_not_utf8_are_a_400_not_a_503(listener: Listener) -> None:
    status, body = listener.request(
        "POST", "/api/v1/webhooks/open", b"{}", {**JSON, "X-Thing": "caf\xe9"}
    )
    assert status in (202, 400), body


ENCODINGS = st.sampled_from(["", "gzip", "deflate", "br", "identity", "x-bogus", "gzip, gzip"])
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "application/vnd.x+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "",
        ";;;",
        "application/json; charset=\x7f",
    ]
)
JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
).map(lambda v: __import__("json").dumps(v).encode())
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_TEXT,
    st.sampled_from(
        [b'{"a":"\\ud800"}', b'{"a":"\\udfff\\ud800"}', b"[" * 200, b'{"a":1e999}', b"\xff\xfe"]
    ),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)
HEADERS = st.dictionaries(
    st.sampled_from(["X-A", "X-Hub-Signature-256", "X-GitHub-Delivery", "Origin", "Cookie"]),
    HEADER_VALUES,
    max_size=3,
)
PATHS = st.one_of(
    st.just("/api/v1/webhooks/open"),
    st.just("/api/v1/webhooks/st2"),
    st.text(max_size=30).map(lambda t: "/api/v1/webhooks/" + quote(t, safe="/%")),
    st.sampled_from(["/api/v1/webhooks/%2e%2e/%2e%2e", "/api/v1/webhooks/%ff", "/healthz"]),
)


def encoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=PATHS,
    body=BODIES,
    content_type=CONTENT_TYPES,
    encoding=ENCODINGS,
    compress=st.booleans(),
    headers=HEADERS,
)
def test_fuzzed_requests_never_get_a_5xx(
    listener: Listener,
    path: str,
    body: bytes,
    content_type: str,
    encoding: str,
    compress: bool,
    headers: dict[str, str],
) -> None:
    sent = {**headers, "Content-Type": content_type}
    if encoding:
        sent["Content-Encoding"] = encoding
    payload = encoded(body, encoding) if compress else body
    status, answer = listener.request("POST", path, payload, sent)
    assert status < 500, (status, answer)
