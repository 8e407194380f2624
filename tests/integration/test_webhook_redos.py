"""ReDoS through a webhook: ``(a+)+$`` against a long ``aaaa…!`` leaves the listener answering.

With stdlib ``re`` (as st2 runs rule regexes) that pattern backtracks exponentially on this
input and the one event loop would never serve another request. The server is a real
``squall serve`` subprocess, so a frozen one makes this test fail on its timeouts instead of
hanging it; every bound only proves "not frozen".
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_webhook_kill9 import Site, make_site, post, serve, wait_for

NOT_FROZEN = 10.0  # seconds: generous, a frozen process would never answer at all
EVIL = "a" * 50_000 + "!"
# (rule name, operator, pattern): the hostile shapes, plus one rule that does match so the test
# also proves the criteria really were evaluated.
CRITERIA = [
    ("nested_plus", "regex", "(a+)+$"),
    ("nested_plus_ci", "iregex", "(A+)+$"),
    ("nested_plus_anchored", "matchregex", "(a+)+$"),
    ("backreference", "regex", "^(a+)+\\\\1$"),  # RE2 cannot: refused, never run by ``re``
    ("wildcard", "matchwildcard", "*a*a*a*a*a*a*a*a*b"),
    ("matches", "regex", "a+!$"),
]
RULE = """---
name: {name}
pack: site
enabled: true
trigger: {{type: core.st2.webhook, parameters: {{url: redos}}}}
criteria:
  trigger.body.text: {{type: {operator}, pattern: "{pattern}"}}
action: {{ref: core.noop}}
"""
OTHER = """name: other
pack: site
enabled: true
trigger: {type: core.st2.webhook, parameters: {url: other}}
action: {ref: core.noop}
"""


@pytest.fixture
def site(tmp_path: Path) -> Site:
    pack = {
        "pack.yaml": "ref: site\nname: site\ndescription: ReDoS\nversion: 0.1.0\nauthor: tests\n",
        "rules/other.yaml": OTHER,
    }
    for name, operator, pattern in CRITERIA:
        pack[f"rules/{name}.yaml"] = RULE.format(name=name, operator=operator, pattern=pattern)
    return make_site(tmp_path, pack, ["redos", "other"])


def statuses(site: Site) -> dict[str, object]:
    """Trigger instance status by webhook (the instance ``source``)."""
    rows = site.rows("select json_extract(doc, '$.source'), status from trigger_instances")
    return {str(source): status for source, status in rows}


def test_a_redos_payload_leaves_the_listener_responsive(site: Site) -> None:
    with serve(site):
        post(site, "redos", {"text": EVIL}, timeout=NOT_FROZEN)
        # Asked while the hostile instance is evaluated: a frozen loop would time these out.
        url = f"http://127.0.0.1:{site.port}/healthz"
        with urllib.request.urlopen(url, timeout=NOT_FROZEN) as resp:
            assert resp.status == 200
        post(site, "other", {}, timeout=NOT_FROZEN)
        done = {"webhook:redos": "processed", "webhook:other": "processed"}
        wait_for(lambda: statuses(site) == done, "instances not processed", site, NOT_FROZEN)

    enforced = site.rows("select rule_ref from rule_enforcements order by rule_ref")
    assert enforced == [("site.matches",), ("site.other",)]
    assert "pack content skipped" not in site.log.read_text()  # every rule above was loaded
