"""st2-format §6.5: every parser case (34, 35, 36 and 47 live with params and matcher tests)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.aliases.parser import (
    MAX_COMMAND_CHARS,
    AliasParseError,
    compile_format,
    literal_score,
    parse,
    parse_multiple,
    split_trailing_pairs,
)
from core.aliases.shape import first_word

ALL_THE_THINGS = "{{ p0='http' }} g {{ p1=p }} a {{ url }} {{ p2={'a':'b'} }} {{ p3={{ e.i }} }}"
REGEX_RUN = "regex (run|execute) {{cmd}}( on {{hosts=localhost}})?[!.]?"
ISSUE = "(?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)"

CASES: list[tuple[int, str, str | None, dict[str, str]]] = [
    (1, "", "", {}),
    (2, "", "a=foobar1", {"a": "foobar1"}),
    (3, "foo", 'foo a="foobar2 poonies bar"', {"a": "foobar2 poonies bar"}),
    (4, "foo", "foo a='foobar2 poonies bar'", {"a": "foobar2 poonies bar"}),
    (5, "foo", 'foo a={"foobar2": "poonies"}', {"a": '{"foobar2": "poonies"}'}),
    (
        6,
        "",
        'a=foobar1 b="boobar2 3 4" c=\'coobar3 4\' d={"a": "b"}',
        {"a": "foobar1", "b": "boobar2 3 4", "c": "coobar3 4", "d": '{"a": "b"}'},
    ),
    (
        7,
        "{{ captain }} is my captain",
        'Malcolm Reynolds is my captain weirdo="River Tam"',
        {"captain": "Malcolm Reynolds", "weirdo": "River Tam"},
    ),
    (
        8,
        "skip {{a}} more skip {{b}} and skip more.",
        "skip a1 more skip b1 and skip more.",
        {"a": "a1", "b": "b1"},
    ),
    (9, "skip {{a}} more skip {{b}}", "skip a1 more skip b1", {"a": "a1", "b": "b1"}),
    (
        10,
        "skip {{a}} more skip {{b}} and skip more.",
        'skip "a1 a2" more skip b1 and skip more.',
        {"a": "a1 a2", "b": "b1"},
    ),
    (
        11,
        "acl {{a}} {{b}} {{c}} {{d=1}}",
        'acl "a1 a2" "b1" "c1"',
        {"a": "a1 a2", "b": "b1", "c": "c1", "d": "1"},
    ),
    (12, "acl {{a=test}}", "acl", {"a": "test"}),
    (
        13,
        "skip {{a}} more skip.",
        'skip {"a": "b", "c": "d"} more skip.',
        {"a": '{"a": "b", "c": "d"}'},
    ),
    (
        14,
        "skip {{a}} more skip {{b}}.",
        'skip {"a": "b", "c": "d"} more skip x.',
        {"a": '{"a": "b", "c": "d"}', "b": "x"},
    ),
    (
        15,
        "s {{a}} more {{ b }} more {{ c=99 }} more {{ d = 99 }}",
        "s one more two more three more",
        {"a": "one", "b": "two", "c": "three", "d": "99"},
    ),
    (16, "skip {{ a = value }} more", "skip one more", {"a": "one"}),
    (17, "skip {{ a = value }} more", "skip more", {"a": "value"}),
    (
        18,
        "two by two hands of {{ color = {{ colors.default_color }} }}",
        "two by two hands of",
        {"color": "{{ colors.default_color }}"},
    ),
    (19, "testing {{ a }}", "testing value b=value2", {"a": "value", "b": "value2"}),
    (20, "testing {{ a=new }}", 'testing b="another value"', {"a": "new", "b": "another value"}),
    (
        21,
        "testing {{ b=abc }} {{ c=xyz }}",
        'testing newvalue d={"1": "2"} e="long value"',
        {"b": "newvalue", "c": "xyz", "d": '{"1": "2"}', "e": "long value"},
    ),
    (22, "skip {{d=test1}} more skip {{e=test1}}.", "skip more skip", {"d": "test1", "e": "test1"}),
    (
        23,
        "skip {{d=test}} more skip {{e=test}}",
        "skip ponies more skip",
        {"d": "ponies", "e": "test"},
    ),
    (
        25,
        ALL_THE_THINGS,
        "g a http://google.com {{ execution.id }} p4='testing' p5={'a':'c'}",
        {
            "p0": "http",
            "p1": "p",
            "url": "http://google.com",
            "p2": "{{ execution.id }}",
            "p3": "{{ e.i }}",
            "p4": "testing",
            "p5": "{'a':'c'}",
        },
    ),
    (27, "foo bar", "foo bar pony1=foo pony2=bar", {"pony1": "foo", "pony2": "bar"}),
    (28, rf"^\s*foo {ISSUE}", "foo ASDF-1234", {"issue_key": "ASDF-1234"}),
    (30, rf"foo {ISSUE}\s*$", "foo ASDF-1234", {"issue_key": "ASDF-1234"}),
    (32, rf"^\s*foo {ISSUE} bar\s*$", "foo ASDF-1234 bar", {"issue_key": "ASDF-1234"}),
    (
        33,
        "Lorem ipsum {{param1}} dolor sit {{param2}} amet.",
        'Lorem ipsum value1 dolor sit "value2 value3" amet.',
        {"param1": "value1", "param2": "value2 value3"},
    ),
    (
        37,
        "{{choice}} cross the {{target}}",
        "Don't cross the streams",
        {"choice": "Don't", "target": "streams"},
    ),
    (
        38,
        "run {{cmd}} on {{hosts}}",
        "run date on localhost",
        {"cmd": "date", "hosts": "localhost"},
    ),
    (
        39,
        REGEX_RUN,
        'regex run "echo ChatOps run command with regex".',
        {"cmd": "echo ChatOps run command with regex", "hosts": "localhost"},
    ),
    (40, REGEX_RUN, "regex run date on web1.", {"cmd": "date", "hosts": "web1"}),
    (
        41,
        "default run {{cmd}} {{hosts=localhost}}",
        'default run "echo X"',
        {"cmd": "echo X", "hosts": "localhost"},
    ),
    (
        42,
        "extra run {{cmd}} on {{hosts}}",
        'extra run "echo X" on localhost timeout=120',
        {"cmd": "echo X", "hosts": "localhost", "timeout": "120"},
    ),
    (44, "st2 list {{ limit=10 }} executions", "st2 list executions", {"limit": "10"}),
    (
        45,
        "st2 list {{ limit=10 }} executions with status {{ status }}",
        "st2 list executions with status failed",
        {"limit": "10", "status": "failed"},
    ),
    (
        46,
        "geoip {{ip_addresses}}",
        "geoip 192.168.1.1,192.168.1.2",
        {"ip_addresses": "192.168.1.1,192.168.1.2"},
    ),
]

NO_MATCH: list[tuple[int, str, str | None]] = [
    (24, "skip {{d}} more skip {{e}}.", None),
    (26, "foo bar ponies", "foo lulz ponies"),
    (29, rf"^\s*foo {ISSUE}", "bar foo ASDF-1234"),
    (31, rf"foo {ISSUE}\s*$", "foo ASDF-1234 bar"),
    (43, "pack get {{ pack }}", "pack get pack=example"),
]


@pytest.mark.parametrize(
    ("format_", "command", "expected"),
    [pytest.param(f, c, e, id=f"case-{n:02d}") for n, f, c, e in CASES],
)
def test_st2_case_extracts_parameters(
    format_: str, command: str | None, expected: dict[str, str]
) -> None:
    assert parse(format_, command) == expected


@pytest.mark.parametrize(
    ("format_", "command"), [pytest.param(f, c, id=f"case-{n:02d}") for n, f, c in NO_MATCH]
)
def test_st2_case_does_not_match(format_: str, command: str | None) -> None:
    with pytest.raises(AliasParseError):
        parse(format_, command)


def test_no_match_message_is_st2s() -> None:
    with pytest.raises(AliasParseError) as caught:
        parse("skip {{d}} more skip {{e}}.", None)
    assert str(caught.value) == (
        'Command "" doesn\'t match format string "skip {{d}} more skip {{e}}."'
    )


def test_blank_stream_without_values_is_refused() -> None:
    with pytest.raises(AliasParseError, match=r"No value supplied and no default value found\."):
        parse(r"(?P<x>a)?", "")


def test_whitespace_typed_by_the_user_is_kept() -> None:
    # st2 quirk (§6.2 step 8): the lazy value keeps surplus spaces.
    assert parse("run {{cmd}} on {{hosts}}", "run  date on localhost") == {
        "cmd": " date",
        "hosts": "localhost",
    }


def test_trailing_pairs_are_removed_everywhere_in_the_command() -> None:
    # st2 removes the trailing run with str.replace, i.e. every occurrence of it.
    stream, pairs = split_trailing_pairs("x a=1 y a=1")
    assert (stream, pairs) == (" x y ", {"a": "1"})


def test_empty_quoted_pair_is_empty_string() -> None:
    assert parse("foo", "foo a=\"\" b=''") == {"a": "", "b": ""}


def test_match_is_case_sensitive() -> None:
    with pytest.raises(AliasParseError):
        parse("ping {{host}}", "PING 8.8.8.8")


def test_match_multiple_finds_every_occurrence() -> None:
    format_ = rf"(?:\b|^)duplicate of {ISSUE}(?:\b|$)"
    command = "JKROWLING-4 is a duplicate of JRRTOLKIEN-24 which is a duplicate of DRSEUSS-12"
    assert parse_multiple(format_, command) == [
        {"issue_key": "JRRTOLKIEN-24"},
        {"issue_key": "DRSEUSS-12"},
    ]


def test_invalid_format_is_a_parse_error_naming_it() -> None:
    with pytest.raises(AliasParseError, match=r'format string "run \{\{a\}\} \{\{a\}\}"'):
        compile_format("run {{a}} {{a}}")


def test_command_over_the_cap_is_refused() -> None:
    with pytest.raises(AliasParseError, match="over"):
        parse("echo {{message}}", "echo " + "x" * MAX_COMMAND_CHARS)


def test_backtracking_command_is_bounded() -> None:
    # Four lazy parameters and no final match: stdlib re would take hours.
    format_ = "a {{p}} {{q}} {{r}} {{s}} x"
    with pytest.raises(AliasParseError):
        parse(format_, "a " + " b" * 600)


def test_trailing_pair_pattern_is_bounded() -> None:
    # st2's own pattern backtracks ~30 s under stdlib re on this input.
    with pytest.raises(AliasParseError):
        parse("x {{a}}", " " * (MAX_COMMAND_CHARS - 1) + "=")


@pytest.mark.parametrize(
    ("format_", "score"),
    [
        ("ping {{host}}", 4),
        ("ping {{host}} count {{count}}", 9),
        (REGEX_RUN, 8),
        ("acl {{a=test}}", 3),
        ("", 0),
    ],
)
def test_literal_score_counts_guaranteed_literals(format_: str, score: int) -> None:
    assert literal_score(format_) == score


@pytest.mark.parametrize(
    ("format_", "word"),
    [
        ("ping {{host}}", "ping"),
        (rf"^\s*foo {ISSUE}", "foo"),
        ("st2 list {{ limit=10 }} executions", "st2"),
        ("uuid", "uuid"),
        ("ping{{host}}", None),
        ("foo|bar {{x}}", None),
        ("(?i)ping {{host}}", None),
        ("acl {{a=test}}", "acl"),
        ("acl{{a=test}}", None),
        ("run (now|later) {{x}}", "run"),
        ("run(now|later) {{x}}", None),
        ("go( {{x}})?$", "go"),
        ("go( {{x}})?x", None),
        (r"go\s+{{x}}", "go"),
        (r"go\s*{{x}}", None),
        (rf"(?:\b|^)duplicate of {ISSUE}", None),
        ("", None),
    ],
)
def test_first_word_is_known_only_when_the_regex_fixes_it(format_: str, word: str | None) -> None:
    assert compile_format(format_).first_word == word


FORMATS = st.sampled_from(
    [f for _, f, _, _ in CASES] + ["run {{cmd}} on {{hosts}}", "{{a}} {{b}} {{c}} x", "x {{a=1}}"]
)


@settings(max_examples=300, deadline=None)
@given(format_=FORMATS, command=st.text(max_size=300))
def test_parser_raises_only_its_own_error(format_: str, command: str) -> None:
    try:
        result = parse(format_, command)
    except AliasParseError:
        return
    assert all(isinstance(v, str | None) for v in result.values())


@settings(max_examples=200, deadline=None)
@given(format_=st.text(max_size=40), command=st.text(max_size=60))
def test_any_format_raises_only_parse_errors(format_: str, command: str) -> None:
    # Anything but AliasParseError (re.error, IndexError, TimeoutError...) fails the test.
    with contextlib.suppress(AliasParseError):
        parse(format_, command)


INDEXED_FORMATS = [
    "ping {{host}}",
    "ping {{host}} count {{count}}",
    "acl {{a=test}}",
    "run (now|later) {{x}}",
    "go( {{x}})?$",
    r"go\s+{{x}}",
    "uuid",
    "st2 list {{ limit=10 }} executions",
]
WORDS = ["ping", "acl", "run", "go", "now", "later", "uuid", "st2", "list", "executions",
         "count", "3", "a=1", "'q r'", " ", "\t", "\n", "pingx", "go(", "="]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(format_=st.sampled_from(INDEXED_FORMATS), words=st.lists(st.sampled_from(WORDS), max_size=6))
def test_first_word_index_never_hides_a_match(format_: str, words: list[str]) -> None:
    command = " ".join(words)
    compiled = compile_format(format_)
    try:
        parse(format_, command)
    except AliasParseError:
        return
    stream, _ = split_trailing_pairs(command)
    assert compiled.first_word == first_word(stream)
