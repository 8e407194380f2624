"""KeyValueService and the ``st2kv`` template context over a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from core.kv import SYSTEM, USER, DecryptionError, KeyNameError, KeyRing, generate_key
from core.kv.lookup import KvValue, kv_context
from core.kv.service import KeyValueService
from core.models import Action, RunnerType
from core.params import ParameterError, resolve_parameters
from core.templates.render import render_template

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BARE = RunnerType(name="noop")


def render(kv_mapping: dict[str, Any], **defaults: str) -> dict[str, Any]:
    params = {name: {"type": "string", "default": text} for name, text in defaults.items()}
    action = Action("demo", "act", BARE.name, Path("."), parameters=params)
    return resolve_parameters(BARE, action, {}, kv=kv_mapping).all


async def test_plain_value_round_trip(kv: KeyValueService) -> None:
    stored = await kv.set("host", "db1", description="primary")
    assert (stored.value, stored.secret, stored.encrypted) == ("db1", False, False)
    found = await kv.get("host")
    assert found == stored
    assert found is not None and found.description == "primary"


async def test_secret_is_stored_encrypted_and_decrypts(kv: KeyValueService) -> None:
    stored = await kv.set("pw", "hunter2", secret=True)
    assert stored.encrypted and stored.value.startswith("sq1:")
    raw = await kv.store.kv.get(SYSTEM, "pw")
    assert raw is not None and "hunter2" not in raw.value
    assert (await kv.get("pw")) == stored
    opened = await kv.get("pw", decrypt=True)
    assert opened is not None and opened.value == "hunter2"
    assert [p.value for p in await kv.list(decrypt=True)] == ["hunter2"]


async def test_user_scope_uses_user_prefixed_names(kv: KeyValueService) -> None:
    await kv.set("token", "a", scope=USER, user="alice")
    await kv.set("token", "b", scope="st2kv.user", user="bob")
    found = await kv.get("token", scope=USER, user="alice")
    assert found is not None and (found.name, found.value) == ("alice:token", "a")
    assert [p.name for p in await kv.list(scope=USER, user="bob")] == ["bob:token"]
    assert await kv.get("token") is None  # the system scope is separate
    assert await kv.delete("token", scope=USER, user="alice") is True
    assert await kv.delete("token", scope=USER, user="alice") is False


async def test_chat_identities_own_separate_user_keys(kv: KeyValueService) -> None:
    await kv.set("token", "one", scope=USER, user="slack:T1:U1")
    await kv.set("U1:token", "other", scope=USER, user="slack:T1")
    mine = await kv.list(scope=USER, user="slack:T1:U1")
    assert [(p.to_api(False)["user"], p.value) for p in mine] == [("slack:T1:U1", "one")]
    theirs = await kv.list(scope=USER, user="slack:T1")
    assert [p.value for p in theirs] == ["other"]
    context = await kv_context(kv, "slack:T1:U1")
    assert render(context, d="{{ st2kv.user.token }}") == {"d": "one"}
    assert await kv.delete("token", scope=USER, user="slack:T1:U1") is True


async def test_ttl_sets_expiry_and_expired_keys_vanish(kv: KeyValueService) -> None:
    stored = await kv.set("tmp", "x", ttl=60, now=NOW)
    assert stored.expire_timestamp == NOW + timedelta(seconds=60)
    # NOW is in the past, so the key has already expired.
    assert await kv.get("tmp") is None
    assert await kv.delete_expired() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "global"}, "unknown datastore scope"),
        ({"scope": USER}, "needs a user name"),
        ({"scope": USER, "user": "a\nb"}, "control characters"),
        ({"ttl": 0}, "TTL must be positive"),
    ],
)
async def test_clear_errors(kv: KeyValueService, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(KeyNameError, match=message):
        await kv.set("k", "v", **kwargs)


async def test_empty_name_is_refused(kv: KeyValueService) -> None:
    with pytest.raises(KeyNameError, match="must not be empty"):
        await kv.get(" ")


async def test_other_key_ring_cannot_decrypt(kv: KeyValueService) -> None:
    await kv.set("pw", "hunter2", secret=True)
    stranger = KeyValueService(kv.store, KeyRing(current=generate_key()))
    with pytest.raises(DecryptionError, match="unknown key id"):
        await stranger.get("pw", decrypt=True)


async def test_kv_context_renders_in_templates(kv: KeyValueService) -> None:
    await kv.set("host", "db1")
    await kv.set("db.url", "pg://x")
    await kv.set("token", "t-alice", scope=USER, user="alice")
    await kv.set("token", "t-bob", scope=USER, user="bob")
    stored = await kv.set("pw", "hunter2", secret=True)
    mapping = await kv_context(kv, "alice")
    assert render(
        mapping,
        a="{{ st2kv.system.host }}",
        b="{{ st2kv.system.db.url }}",
        c="[{{ st2kv.system.missing }}]",
        d="{{ st2kv.user.token }}",
        e="{{ st2kv.system.pw }}",
        f="{{ st2kv.system.pw | decrypt_kv }}",
        g="[{{ st2kv.system.nope | decrypt_kv }}]",
    ) == {
        "a": "db1",
        "b": "pg://x",
        "c": "[]",
        "d": "t-alice",
        "e": stored.value,  # secrets render as ciphertext, as in st2
        "f": "hunter2",
        "g": "[]",
    }
    assert render(await kv_context(kv, None), d="[{{ st2kv.user.token }}]") == {"d": "[]"}


async def test_decrypt_kv_refuses_plain_values(kv: KeyValueService) -> None:
    await kv.set("host", "db1")
    mapping = await kv_context(kv, None)
    assert isinstance(mapping[SYSTEM]["host"], KvValue)
    with pytest.raises(ParameterError, match="not encrypted"):
        render(mapping, a="{{ st2kv.system.host | decrypt_kv }}")
    with pytest.raises(ParameterError, match="only applies to st2kv"):
        render(mapping, a="{{ 'sq1:x:y' | decrypt_kv }}")


async def test_templates_cannot_reach_the_key_ring(kv: KeyValueService) -> None:
    await kv.set("pw", "hunter2", secret=True)
    value = (await kv_context(kv, None))[SYSTEM]["pw"]
    with pytest.raises(SecurityError):
        render_template("{{ v._keys.current.secret }}", {"v": value})
