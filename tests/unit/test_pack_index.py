"""ContentIndex lookups and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import Action, Pack
from core.packs import ContentIndex, UnknownActionError


def index() -> ContentIndex:
    actions = [
        Action(pack=p, name=n, runner_type="noop", pack_path=Path("/p"))
        for p, n in [("core", "echo"), ("core", "local"), ("core", "local_sudo"), ("st2", "kv.get")]
    ]
    return ContentIndex(
        packs={"core": Pack(ref="core", name="core", path=Path("/p"))},
        actions={a.ref: a for a in actions},
    )


def test_get_action_by_ref_including_dotted_names() -> None:
    assert index().get_action("st2.kv.get").name == "kv.get"


def test_unknown_action_suggests_close_matches() -> None:
    with pytest.raises(UnknownActionError) as caught:
        index().get_action("core.ecoh")
    assert str(caught.value) == "unknown action 'core.ecoh'; did you mean 'core.echo'?"
    assert caught.value.ref == "core.ecoh"
    assert caught.value.suggestions == ["core.echo"]


def test_several_suggestions_best_first() -> None:
    with pytest.raises(UnknownActionError) as caught:
        index().get_action("core.locals")
    assert caught.value.suggestions == ["core.local", "core.local_sudo"]


def test_unknown_action_without_close_match() -> None:
    with pytest.raises(UnknownActionError, match=r"^unknown action 'zzz'$"):
        index().get_action("zzz")


def test_unknown_action_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        index().get_action("nope.nope")
