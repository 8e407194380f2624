"""Alias matching (st2-format §6.3) with Squall's specificity rule; cases 36 and 47 of §6.5."""

from __future__ import annotations

import pytest

from core.aliases import AliasIndex, AmbiguousAliasMatch, NoAliasMatch
from core.models import Alias, AliasFormat


def alias(name: str, *formats: str | AliasFormat, enabled: bool = True) -> Alias:
    built = tuple(f if isinstance(f, AliasFormat) else AliasFormat(f, (f,)) for f in formats)
    return Alias(pack="test", name=name, action_ref="core.noop", formats=built, enabled=enabled)


def test_most_specific_format_wins() -> None:
    index = AliasIndex(
        [alias("ping", "ping {{host}}"), alias("count", "ping {{host}} count {{count}}")]
    )
    [match] = index.match("ping 8.8.8.8 count 3")
    assert (match.alias.ref, match.parameters) == ("test.count", {"host": "8.8.8.8", "count": "3"})
    assert match.format == "ping {{host}} count {{count}}"


def test_same_alias_formats_rank_too() -> None:
    index = AliasIndex([alias("ping", "ping {{host}}", "ping {{host}} count {{count}}")])
    [match] = index.match("ping 8.8.8.8 count 3")
    assert match.parameters == {"host": "8.8.8.8", "count": "3"}


def test_case_47_equal_specificity_answers_with_candidates() -> None:
    text = "Lorem ipsum banana dolor sit pineapple amet."
    index = AliasIndex(
        [
            alias("one", "Lorem ipsum {{param1}} dolor sit {{param2}} amet."),
            alias("two", "Lorem ipsum {{param1}} dolor sit {{param2}} amet."),
        ]
    )
    with pytest.raises(AmbiguousAliasMatch) as caught:
        index.match(text)
    assert [c.alias.ref for c in caught.value.candidates] == ["test.one", "test.two"]
    assert str(caught.value).startswith(f"Command '{text}' matched more than 1 pattern")


def test_case_36_match_multiple_gives_one_match_per_occurrence() -> None:
    format_ = r"(?:\b|^)duplicate of (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)(?:\b|$)"
    index = AliasIndex([alias("dup", AliasFormat("duplicate of", (format_,), match_multiple=True))])
    matches = index.match(
        "JKROWLING-4 is a duplicate of JRRTOLKIEN-24 which is a duplicate of DRSEUSS-12"
    )
    assert [m.parameters for m in matches] == [
        {"issue_key": "JRRTOLKIEN-24"},
        {"issue_key": "DRSEUSS-12"},
    ]


def test_single_formats_are_tried_before_match_multiple() -> None:
    multi = AliasFormat("any", (r"(?P<word>\w+)",), match_multiple=True)
    index = AliasIndex([alias("multi", multi), alias("echo", "echo {{message}}")])
    [match] = index.match("echo hi")
    assert match.alias.ref == "test.echo"


def test_disabled_alias_never_matches() -> None:
    index = AliasIndex([alias("off", "echo {{message}}", enabled=False)])
    with pytest.raises(NoAliasMatch, match="Command 'echo hi' matched no patterns"):
        index.match("echo hi")
    assert [a.ref for a in index.aliases()] == ["test.off"]


def test_unindexed_formats_are_still_tried() -> None:
    index = AliasIndex([alias("acl", "(?i)acl {{a=test}}"), alias("re", r"(?:\b|^)go (?P<x>\w+)")])
    assert index.match("acl")[0].parameters == {"a": "test"}
    assert index.match("please go north")[0].parameters == {"x": "north"}


def test_first_word_index_does_not_skip_trailing_pairs() -> None:
    index = AliasIndex([alias("ping", "ping {{host}}")])
    assert index.match("ping 1.1.1.1 count=3")[0].parameters == {"host": "1.1.1.1", "count": "3"}


def test_help_only_format_matches_blank_stream_like_st2() -> None:
    index = AliasIndex([alias("help", AliasFormat("help text", ("",)))])
    assert index.match("a=1")[0].parameters == {"a": "1"}


def test_over_long_text_is_no_match_with_reason() -> None:
    index = AliasIndex([alias("echo", "echo {{message}}")])
    with pytest.raises(NoAliasMatch, match="cannot be matched: command is over"):
        index.match("echo " + "x" * 5000)


def test_many_catastrophic_formats_stop_at_the_message_budget() -> None:
    # Each format alone would backtrack for hours; together they get MATCH_BUDGET_SECONDS.
    slow = [
        alias(f"slow{n}", f"(?:^|x){{{{p}}}} {{{{q}}}} {{{{r}}}} {{{{s}}}} y{n}") for n in range(20)
    ]
    with pytest.raises(NoAliasMatch, match="took too long to match"):
        AliasIndex(slow).match(" b" * 600)
