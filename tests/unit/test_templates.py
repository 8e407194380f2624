"""The sandboxed Jinja environment: rendering, sandbox escapes, size limits, cache, filters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from core.templates import render as templates
from core.templates.render import (
    MAX_SOURCE_CHARS,
    NONE_MAGIC_VALUE,
    SecurityError,
    TemplateError,
    TemplateLimitError,
    TemplateRenderError,
    TemplateSyntaxError,
    TemplateUndefinedError,
    is_template,
    register_filter,
    render_native,
    render_template,
    render_value,
    template_cache_stats,
    template_variables,
    value_variables,
)

# --- basic rendering ----------------------------------------------------------------------------


def test_renders_with_context() -> None:
    assert render_template("{{ a }}-{{ b.c }}", {"a": 1, "b": {"c": "x"}}) == "1-x"


def test_trim_and_lstrip_blocks() -> None:
    text = "items:\n    {% for i in xs %}\n- {{ i }}\n    {% endfor %}\ndone"
    assert render_template(text, {"xs": [1, 2]}) == "items:\n- 1\n- 2\ndone"


def test_autoescape_is_off() -> None:
    assert render_template("{{ v }}", {"v": "<b>&</b>"}) == "<b>&</b>"


def test_dict_into_string_is_python_repr() -> None:
    # st2 quirk (§2.3): a dict rendered into text is its repr, not JSON.
    assert render_template("{{ d }}", {"d": {"a": 1, "b": True}}) == "{'a': 1, 'b': True}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ x }}", True),
        ("{% if x %}y{% endif %}", True),
        ("plain", False),
        ("{# comment #}", False),
        ("{ not } { template }", False),
        ({"k": ["a", "{{ b }}"]}, True),
        ({"{{ k }}": 1}, True),
        (["a", {"b": "c"}], False),
        (5, False),
        (None, False),
    ],
)
def test_is_template(value: object, expected: bool) -> None:
    assert is_template(value) is expected


def test_undefined_variable_names_it() -> None:
    with pytest.raises(TemplateUndefinedError, match="'missing' is undefined") as info:
        render_template("{{ missing }}", {})
    assert isinstance(info.value, TemplateError)


def test_undefined_attribute_names_it() -> None:
    with pytest.raises(TemplateUndefinedError, match="no attribute 'nope'"):
        render_template("{{ d.nope }}", {"d": {}})


def test_syntax_error() -> None:
    with pytest.raises(TemplateSyntaxError):
        render_template("{{ a ", {"a": 1})


def test_filter_exception_is_wrapped() -> None:
    with pytest.raises(TemplateRenderError, match="JSONDecodeError"):
        render_template("{{ 'not json' | from_json_string }}", {})
    with pytest.raises(TemplateRenderError, match="ZeroDivisionError"):
        render_template("{{ 1 / 0 }}", {})


def test_template_variables() -> None:
    text = "{{ a.b }}{% for i in c %}{{ i }}{{ range(2) | list }}{% endfor %}{% set d = 1 %}{{ d }}"
    assert template_variables(text) == frozenset({"a", "c"})


def test_value_variables_walks_keys_and_values() -> None:
    value = {"{{ k }}": ["{{ a }}", {"x": "{{ b.c }}"}], "plain": "{{"[:1]}
    assert value_variables(value) == frozenset({"k", "a", "b"})


# --- sandbox ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ [] | attr('__class__') }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ '{x.__class__}'.format_map({'x': 1}) }}",
        "{{ ('a'.format)('{0}', 1) }}",
        "{{ gen.gi_frame }}",
        "{{ xs.append(1) }}",
        "{{ d.update({'a': 1}) }}",
        "{{ 'a'.ljust(10) }}",
        "{{ 'a'.translate({97: 'b'}) }}",
    ],
)
def test_sandbox_escapes_are_refused(text: str) -> None:
    context: dict[str, Any] = {"gen": (i for i in range(3)), "xs": [], "d": {}}
    with pytest.raises(SecurityError):
        render_template(text, context)


def test_lipsum_global_is_removed() -> None:
    with pytest.raises(TemplateUndefinedError, match="lipsum"):
        render_template("{{ lipsum(n=100000) }}", {})


def test_safe_methods_still_work() -> None:
    assert render_template("{{ 'a,b'.split(',') | join('-') | upper }}", {}) == "A-B"
    assert render_template("{{ d.get('k', 'z') }}{{ d.items() | list }}", {"d": {}}) == "z[]"


# --- resource limits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{{ 'a' * 10**9 }}",
        "{{ 10**9 * 'a' }}",
        "{{ [1, 2] * 10**9 }}",
        "{{ 2 ** (10**9) }}",
        "{{ (2 ** 60000) * (2 ** 60000) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%*d' % (1000000000, 1) }}",
        "{{ '%0999999999d' | format(1) }}",
        "{{ 'a' | center(10**9) }}",
        "{{ 'a' | center(1000000000) }}",
        "{{ 'a' | indent(10**9) }}",
        "{{ [1] | batch(10**9, 0) | list }}",
        "{{ [1] | slice(10**9) | list }}",
        "{{ {'a': [1]} | tojson(indent=10**9) }}",
        "{{ range(100000) | join('x' * 100000) }}",
        "{{ ('x' * 1000000).replace('', 'yyyyy') }}",
        "{{ ('x' * 1000000) | replace('', 'yyyyy') }}",
        "{{ 'x'.join(['y' * 1000000] * 5) }}",
        "{% set a = 'x' * 1000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c ~ c }}",
        "{% set a = 'x' * 1000000 %}{% set b = a + a %}{% set c = b + b %}{{ c + c }}",
        "{% for i in range(100000) %}{{ big }}{% endfor %}",
        "{% set s %}{% for i in range(100000) %}{{ big }}{% endfor %}{% endset %}{{ s | length }}",
        "{{ range(100000) | map('string') | map('replace', '1', big) | list | length }}",
    ],
)
def test_size_limits(text: str) -> None:
    with pytest.raises(TemplateLimitError) as info:
        render_template(text, {"big": "x" * 1000})
    assert isinstance(info.value, SecurityError)


@pytest.mark.parametrize(
    "text",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(30) }}",
        "{% for i in xs %}{% for j in xs %}{% for k in xs %}{% endfor %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{{ 'x'.upper() }}{% endfor %}",
    ],
)
def test_cpu_is_bounded_by_steps(text: str) -> None:
    with pytest.raises(TemplateLimitError, match="loop iterations and calls"):
        render_template(text, {"xs": list(range(100))})


def test_loops_still_work() -> None:
    text = (
        "{% for k, v in d.items() %}{{ loop.index }}/{{ loop.length }}:{{ k }}={{ v }};{% endfor %}"
    )
    assert render_template(text, {"d": {"a": 1, "b": 2}}) == "1/2:a=1;2/2:b=2;"
    text = "{% for i in xs if i > 1 %}{{ i }}{% else %}none{% endfor %}"
    assert render_template(text, {"xs": [1, 2, 3]}) == "23"
    assert render_template(text, {"xs": []}) == "none"
    tree = [{"n": "a", "c": [{"n": "b", "c": []}]}]
    text = "{% for x in tree recursive %}{{ x.n }}({{ loop(x.c) }}){% endfor %}"
    assert render_template(text, {"tree": tree}) == "a(b())"
    assert render_template("{% for i in range(30000) %}{% endfor %}ok", {}) == "ok"


def test_large_but_allowed_output() -> None:
    assert len(render_template("{{ 'a' * 1000000 }}", {})) == 1_000_000


def test_source_size_is_capped() -> None:
    with pytest.raises(TemplateLimitError, match="source"):
        render_template("{{ 1 }}" + "x" * MAX_SOURCE_CHARS, {})


def test_budget_is_per_render() -> None:
    # Each render gets a fresh allocation budget: many medium renders are fine.
    for _ in range(10):
        assert len(render_template("{{ 'a' * 3000000 }}", {})) == 3_000_000


# --- compiled-template cache --------------------------------------------------------------------


def test_same_template_compiles_once() -> None:
    text = "{{ x }} " + uuid.uuid4().hex
    before = template_cache_stats()
    render_template(text, {"x": 1})
    render_template(text, {"x": 2})
    after = template_cache_stats()
    assert after.compiles - before.compiles == 1
    assert after.hits - before.hits == 1


def test_cache_is_bounded() -> None:
    tag = uuid.uuid4().hex
    for i in range(templates.CACHE_SIZE + 5):
        render_template(f"{{{{ {i} }}}}{tag}", {})
    assert template_cache_stats().size == templates.CACHE_SIZE


def test_lru_evicts_oldest() -> None:
    cache = templates._LruCache(2)
    built: list[str] = []

    def builder(name: str) -> Callable[[], templates._Compiled]:
        def build() -> templates._Compiled:
            built.append(name)
            return templates._Compiled(str, frozenset())

        return build

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(("t", key), builder(key))
    # "b" was least recently used when "c" arrived, so it was evicted and rebuilt.
    assert built == ["a", "b", "c", "b"]


# --- render_value / render_native ---------------------------------------------------------------


def test_render_value_preserves_types_of_whole_variables() -> None:
    context = {"n": 5, "xs": [1, 2], "d": {"a": True}, "s": "str"}
    value = {"n": "{{n}}", "xs": "{{ xs }}", "nested": ["{{ d }}", {"s": "{{ s }}"}], "k": 7}
    assert render_value(value, context) == {
        "n": 5,
        "xs": [1, 2],
        "nested": [{"a": True}, {"s": "str"}],
        "k": 7,
    }


def test_render_value_other_templates_render_to_text() -> None:
    context = {"n": 5, "d": {"a": 1}}
    value = ["{{ n }}-x", "{{ d.a }}", "{{ n + 1 }}", "plain {# kept #}"]
    assert render_value(value, context) == ["5-x", "1", "6", "plain {# kept #}"]


def test_render_value_renders_keys() -> None:
    assert render_value({"{{ k }}": "v"}, {"k": "key"}) == {"key": "v"}


def test_render_value_cannot_inject_json_structure() -> None:
    evil = '", "admin": true, "x": "'
    assert render_value({"name": "hi {{ who }}"}, {"who": evil}) == {"name": f"hi {evil}"}


def test_render_value_leaves_scalars_and_plain_strings() -> None:
    assert render_value(5, {}) == 5
    assert render_value(None, {}) is None
    assert render_value("{# not rendered #}", {}) == "{# not rendered #}"
    assert render_value("{{ a }}", {"a": [1]}) == "[1]"


def test_render_native() -> None:
    assert render_native("{{ xs }}", {"xs": [1, 2]}) == [1, 2]
    assert render_native(" {{ n * 2 }} ", {"n": 4}) == 8
    assert render_native("{{ xs | map('upper') }}", {"xs": ["a"]}) == ["A"]
    assert render_native("{{ a }} {{ b }}", {"a": 1, "b": 2}) == "1 2"
    assert render_native("n={{ n }}", {"n": 1}) == "n=1"
    with pytest.raises(TemplateUndefinedError, match="'nope' is undefined"):
        render_native("{{ nope }}", {})
    with pytest.raises(SecurityError):
        render_native("{{ ''.__class__ }}", {})


def test_register_filter() -> None:
    register_filter("squall_test_shout", lambda v: f"{v}!")
    assert render_template("{{ 'hi' | squall_test_shout }}", {}) == "hi!"


# --- st2 filters (§10.8) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ d | to_json_string }}", '{"a": [1,2]}'),
        (
            "{{ d | to_json_string(indent=2, sort_keys=True) }}",
            '{\n  "a": [\n    1,\n    2\n  ]\n}',
        ),
        ("{{ d | to_yaml_string }}", "a:\n- 1\n- 2\n"),
        ("{{ d | to_complex }}", '{"a": [1, 2]}'),
        ("{{ 'say \"hi\"\n' | json_escape }}", 'say \\"hi\\"\\n'),
        ("{{ ('{\"k\": 1}' | from_json_string).k }}", "1"),
        ("{{ ('[3]' | json_parse)[0] }}", "3"),
        ("{{ ('k: [1, 2]' | from_yaml_string).k[1] }}", "2"),
        ("{{ none | use_none }}", NONE_MAGIC_VALUE),
        ("{{ 'x' | use_none }}", "x"),
        ("{{ 'v1.2' | regex_match('v\\\\d') }}", "True"),
        ("{{ 'V1' | regex_match('v', ignorecase=True) }}", "True"),
        ("{{ 'xv1' | regex_match('v') }}", "False"),
        ("{{ 'xv1' | regex_search('v\\\\d') }}", "True"),
        ("{{ 'a-b-c' | regex_replace('-', '+') }}", "a+b+c"),
        ("{{ 'id=42 id=7' | regex_substring('id=(\\\\d+)', 1) }}", "7"),
        ("{{ '/a/b/c.txt' | basename }}", "c.txt"),
        ("{{ '/a/b/c.txt' | dirname }}", "/a/b"),
        ("{{ 3725 | to_human_time_from_seconds }}", "1h2m5s"),
        ("{{ 59 | to_human_time_from_seconds }}", "59s"),
        ("{{ 0 | to_human_time_from_seconds }}", "0s"),
        ("{{ 90061 | to_human_time_from_seconds }}", "1d1h1m1s"),
        ("{{ '1.2.3' | version_compare('1.10.0') }}", "-1"),
        ("{{ '2.0.0' | version_compare('1.10.0') }}", "1"),
        ("{{ '1.0.0' | version_compare('1.0.0+build') }}", "0"),
        ("{{ '1.0.0-rc.1' | version_less_than('1.0.0') }}", "True"),
        ("{{ '1.0.0-alpha' | version_less_than('1.0.0-alpha.1') }}", "True"),
        ("{{ '1.0.0-2' | version_less_than('1.0.0-10') }}", "True"),
        ("{{ '1.0.0-beta' | version_more_than('1.0.0-2') }}", "True"),
        ("{{ '1.2.3' | version_equal('1.2.3') }}", "True"),
        ("{{ '1.2.3' | version_match('>=1.2.0') }}", "True"),
        ("{{ '1.2.3' | version_match('<1.2.0') }}", "False"),
        ("{{ '1.2.3' | version_match('!=1.2.3') }}", "False"),
        ("{{ '1.2.3' | version_bump_major }}", "2.0.0"),
        ("{{ '1.2.3' | version_bump_minor }}", "1.3.0"),
        ("{{ '1.2.3-rc' | version_bump_patch }}", "1.2.4"),
        ("{{ '1.2.3' | version_strip_patch }}", "1.2"),
        ("{{ doc | jsonpath_query('$.people[*].name') }}", "['a', 'b']"),
        ("{{ doc | jsonpath_query('people[0].name') }}", "['a']"),
        ("{{ doc | jsonpath_query('$..name') }}", "['a', 'b']"),
        ("{{ doc | jsonpath_query(\"$['people'][-1]\") }}", "[{'name': 'b'}]"),
        ("{{ doc | jsonpath_query('$.nothing') }}", "None"),
        ("{{ 'a' in ['a'] }}", "True"),
    ],
)
def test_st2_filters(text: str, expected: str) -> None:
    context = {"d": {"a": [1, 2]}, "doc": {"people": [{"name": "a"}, {"name": "b"}]}}
    assert render_template(text, context) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{{ 'x.y' | version_compare('1.0.0') }}",
        "{{ '1.0.0' | version_match('~1.0.0') }}",
        "{{ d | jsonpath_query('$.a[?(@.b)]') }}",
        "{{ 'abc' | to_human_time_from_seconds }}",
        "{{ d | to_json_string(indent=10**9) }}",
        "{{ d | to_yaml_string(indent=10**9) }}",
    ],
)
def test_st2_filter_errors(text: str) -> None:
    with pytest.raises(TemplateRenderError):
        render_template(text, {"d": {}})
