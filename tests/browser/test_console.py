"""The web console in Debian's Chromium against a live ``squall serve`` (tests/browser)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.chromium import Chromium
from tests.browser.console_server import PASSWORDS, ConsoleServer, console_server

WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    with console_server(tmp_path_factory.mktemp("console")) as running:
        yield running


def signed_in(browser: Browser, server: ConsoleServer, user: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=server.base)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/ui/executions")
    expect(page).to_have_url(f"{server.base}/ui/login?next=/ui/executions")
    page.get_by_label("User").fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.base}/ui/executions")
    return context, page


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"ui-{name}.png"), full_page=True)


def test_sign_in_session_cookie_and_sign_out(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    def body(browser: Browser) -> None:
        context = browser.new_context(base_url=server.base)
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.goto("/ui/executions")
        shot(page, screenshots, "login")
        page.get_by_label("User").fill("alice")
        page.get_by_label("Password", exact=True).fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Invalid or missing credentials")
        page.get_by_label("API key").fill(server.keys["carol"])
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{server.base}/ui/executions")
        expect(page.locator("header")).to_contain_text("carol")
        [cookie] = [c for c in context.cookies() if c["name"] == "squall_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["expires"] > 0  # a session that expires, not a browser-lifetime one
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{server.base}/ui/login")
        # The token is revoked: replaying the old cookie gets the sign-in page again.
        context.add_cookies([cookie])
        page.goto("/ui/executions")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        context.close()

    chromium.run(body, chromium.browser)


def test_a_running_execution_turns_succeeded_on_list_and_detail_without_reload(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "alice")
        expect(page.locator("main")).to_have_attribute("data-stream", "open")
        page.evaluate("window.notReloaded = true")
        status, _, doc = server.http(
            "POST", "/api/v1/executions",
            {"action": "core.local", "parameters": {"cmd": "sleep 3; echo tick"}},
        )  # fmt: skip
        assert status == 201, doc
        row = page.locator(f"tr[data-id='{doc['id']}']")
        expect(row).to_contain_text("core.local")
        expect(row).to_contain_text("running")
        shot(page, screenshots, "executions")
        expect(row).to_contain_text("succeeded")
        assert page.evaluate("window.notReloaded") is True
        # Filters: status and action keep it, another user or a later start time drop it.
        page.get_by_label("Status").select_option("succeeded")
        page.get_by_label("Action").fill("core.local")
        page.get_by_role("button", name="Filter").click()
        expect(row).to_be_visible()
        page.get_by_label("User").fill("carol")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("tbody")).to_contain_text("No executions.")
        page.get_by_label("User").fill("alice")
        page.get_by_label("Started after (UTC)").fill("2999-01-01T00:00:00")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("tbody")).to_contain_text("No executions.")

        detail = context.new_page()
        cmd = "sleep 1; echo first; sleep 4; echo second"
        again = server.http(
            "POST", "/api/v1/executions", {"action": "core.local", "parameters": {"cmd": cmd}}
        )[2]
        detail.goto(f"/ui/executions/{again['id']}")
        expect(detail.locator("main")).to_have_attribute("data-stream", "open")
        detail.evaluate("window.notReloaded = true")
        expect(detail.locator("#status")).to_have_text("running")
        expect(detail.get_by_role("button", name="Cancel")).to_be_visible()
        # Output streams in while it runs (st2.execution.output__create events).
        expect(detail.locator("#output")).to_contain_text("first")
        assert detail.locator("#status").text_content() == "running"
        expect(detail.locator("#status")).to_have_text("succeeded")
        expect(detail.locator("#output")).to_have_text("first\nsecond")
        expect(detail.locator("#result")).to_contain_text('"return_code": 0')
        expect(detail.get_by_role("button", name="Re-run")).to_be_visible()
        assert detail.evaluate("window.notReloaded") is True
        shot(detail, screenshots, "execution")
        context.close()

    chromium.run(body, chromium.browser)


def test_a_workflow_shows_its_task_tree_and_pauses_and_resumes_from_its_buttons(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    # Long enough tasks that the first still runs once the page is up on a loaded machine.
    doc = server.http("POST", "/api/v1/executions", {"action": "flows.slow",
                      "parameters": {"seconds": 8}})[2]  # fmt: skip

    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "alice")
        page.goto(f"/ui/executions/{doc['id']}")
        expect(page.locator("main")).to_have_attribute("data-stream", "open")
        tree = page.locator(".tree")
        expect(tree.locator("li", has_text="first")).to_contain_text("running")
        page.get_by_role("button", name="Pause").click()
        expect(page.locator("#status")).to_have_text("paused")
        expect(tree.locator("li", has_text="first")).to_contain_text("succeeded")
        expect(tree).not_to_contain_text("second")  # paused: the next task waits
        page.get_by_role("button", name="Resume").click()
        expect(page.locator("#status")).to_have_text("succeeded")
        expect(tree.locator("li", has_text="second")).to_contain_text("succeeded")
        shot(page, screenshots, "workflow")
        context.close()

    chromium.run(body, chromium.browser)


def test_a_post_without_the_csrf_token_is_refused(
    chromium: Chromium, server: ConsoleServer
) -> None:
    doc = server.http("POST", "/api/v1/executions", {"action": "core.echo",
                      "parameters": {"message": "x"}})[2]  # fmt: skip
    server.wait_status(doc["id"], ["succeeded"])

    def body(browser: Browser) -> None:
        context, _ = signed_in(browser, server, "alice")
        url = f"/ui/executions/{doc['id']}/rerun"
        refused = context.request.post(url, form={}, max_redirects=0)
        assert refused.status == 403, refused.text()
        wrong = context.request.post(url, form={"csrf": "0" * 64}, max_redirects=0)
        assert wrong.status == 403
        context.close()

    chromium.run(body, chromium.browser)
    listed = server.http("GET", "/api/v1/executions?action=core.echo&limit=100")[2]
    assert not [e for e in listed if e.get("context", {}).get("re-run")]


def test_a_user_without_permission_sees_no_buttons_and_a_forged_post_is_403(
    chromium: Chromium, server: ConsoleServer
) -> None:
    doc = server.http("POST", "/api/v1/executions", {"action": "core.local",
                      "parameters": {"cmd": "sleep 30"}})[2]  # fmt: skip
    server.wait_status(doc["id"], ["running"])

    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "bob")
        page.goto(f"/ui/executions/{doc['id']}")
        expect(page.locator("#status")).to_have_text("running")
        expect(page.locator("main button")).to_have_count(0)
        # The form bob cannot see, forged with his own valid CSRF token: the server refuses.
        csrf = page.locator("header input[name=csrf]").input_value()
        forged = context.request.post(
            f"/ui/executions/{doc['id']}/cancel", form={"csrf": csrf}, max_redirects=0
        )
        assert forged.status == 403, forged.text()
        assert "required permission" in forged.text()
        context.close()

    chromium.run(body, chromium.browser)
    assert server.http("GET", f"/api/v1/executions/{doc['id']}")[2]["status"] == "running"
    server.http("DELETE", f"/api/v1/executions/{doc['id']}")
    server.wait_status(doc["id"], ["canceled"])


def test_a_pending_inquiry_approved_on_the_page_resumes_its_workflow_and_edits_the_chat_card(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    server.type("run flows.ask_anyone")
    server.chat.until("Approve")
    deadline_inquiries = server.http("GET", "/api/v1/inquiries")[2]
    [inquiry] = deadline_inquiries
    workflow = inquiry["parent"]

    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "alice")
        page.get_by_role("link", name="Approvals").click()
        card = page.locator(f"#approval-{inquiry['id']}")
        expect(card).to_contain_text("console")  # who asked
        expect(card).to_contain_text(workflow)  # the whole request, never cut
        shot(page, screenshots, "approvals")
        card.get_by_role("button", name="Approve").click()
        expect(page.locator(f"#approval-{inquiry['id']}")).to_have_count(0)
        context.close()

    chromium.run(body, chromium.browser)
    done = server.wait_status(workflow, ["succeeded", "failed"])
    assert done["status"] == "succeeded"
    # The card's edit (a progress edit of the workflow may come first: it says "↻ updated" too).
    edited = server.chat.until("approved by alice")
    assert "↻ updated" in edited
    # One decision: the same compare-and-set as chat refuses a second answer.
    refused = server.http("PUT", f"/api/v1/inquiries/{inquiry['id']}",
                          {"response": {"continue": False}})  # fmt: skip
    assert refused[0] == 403


def test_an_alias_approval_approved_on_the_page_runs_the_command_and_edits_the_chat_card(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    """A gated execution (an alias with ``approval:``), not a workflow inquiry: the page shows
    the whole request, Approve runs it, the console chat card says who approved it."""
    server.type("guarded echo from-the-approvals-page")
    server.chat.until("awaiting approval")

    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "alice")
        page.goto("/ui/approvals")
        card = page.locator("article.card", has_text="from-the-approvals-page")
        expect(card).to_contain_text("approval")  # the kind: an alias approval, no inquiry
        expect(card).to_contain_text("core.echo")
        expect(card).to_contain_text("console")  # who asked
        shot(page, screenshots, "alias-approval")
        card.get_by_role("button", name="Approve").click()
        expect(page.locator("article.card", has_text="from-the-approvals-page")).to_have_count(0)
        context.close()

    chromium.run(body, chromium.browser)
    edited = server.chat.until("approved by alice")
    assert "↻ updated" in edited
    server.chat.until("from-the-approvals-page")  # the result, posted after it ran
    listed = server.http("GET", "/api/v1/executions?action=core.echo&limit=100")[2]
    [run] = [e for e in listed if e["parameters"].get("message") == "from-the-approvals-page"]
    assert server.wait_status(run["id"], ["succeeded", "failed"])["status"] == "succeeded"
    assert run["context"]["user"] == "console"  # it runs as who asked, approved by alice


def test_an_inquiry_is_answered_through_the_form_of_its_schema_by_its_listed_user(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    server.type("run flows.ask")  # asks bob or erin: approved (required) and reason
    deadline = time.monotonic() + 30
    while not (pending := server.http("GET", "/api/v1/inquiries")[2]):
        assert time.monotonic() < deadline, "flows.ask never asked"
        time.sleep(0.1)
    [inquiry] = pending

    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "alice")  # an admin, but not asked
        page.goto("/ui/approvals")
        expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()
        context.close()
        context, page = signed_in(browser, server, "bob")
        page.goto("/ui/approvals")
        card = page.locator(f"#approval-{inquiry['id']}")
        expect(card.get_by_role("button", name="Approve")).to_have_count(0)
        card.get_by_label("reason").fill("from the <form>")
        card.get_by_role("button", name="Respond").click()
        expect(page.get_by_role("alert")).to_contain_text("approved: required")
        page.go_back()
        card = page.locator(f"#approval-{inquiry['id']}")
        card.get_by_label("approved").select_option("true")
        card.get_by_label("reason").fill("from the <form>")
        shot(page, screenshots, "inquiry-form")
        card.get_by_role("button", name="Respond").click()
        expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()
        context.close()

    chromium.run(body, chromium.browser)
    assert server.wait_status(inquiry["parent"], ["succeeded", "failed"])["status"] == "succeeded"
    answered = server.http("GET", f"/api/v1/executions/{inquiry['id']}")[2]
    assert answered["result"]["response"] == {"approved": True, "reason": "from the <form>"}


def test_the_run_form_runs_core_echo_with_a_typed_message(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "carol")
        page.get_by_role("link", name="Actions").click()
        page.get_by_role("link", name="core.local", exact=True).click()
        expect(page.get_by_text("You may not run this action.")).to_be_visible()
        page.go_back()
        page.get_by_role("link", name="core.echo", exact=True).click()
        message = page.get_by_label("message")
        expect(message).to_have_attribute("required", "")
        message.fill("typed in <Chromium> & sent")
        shot(page, screenshots, "action")
        page.get_by_role("button", name="Run").click()
        expect(page).to_have_url(re.compile(r"/ui/executions/\w+$"))
        expect(page.locator("#status")).to_have_text("succeeded")
        expect(page.locator("#result")).to_contain_text("typed in <Chromium> & sent")
        context.close()

    chromium.run(body, chromium.browser)
    [latest] = server.http("GET", "/api/v1/executions?action=core.echo&limit=1")[2]
    assert latest["parameters"]["message"] == "typed in <Chromium> & sent"
    assert latest["context"]["user"] == "carol"


def test_every_page_reads_at_phone_width_and_is_screenshotted(
    chromium: Chromium, server: ConsoleServer, screenshots: Path
) -> None:
    refused = server.http(
        "POST", "/api/v1/webhooks/no-such-hook", {"password": "hunter2"},
        user=None, headers={"X-Hub-Signature-256": "sha256=hunter2"},
    )  # fmt: skip
    assert refused[0] == 401  # hooks need an API key by default
    delivered = server.http("POST", "/api/v1/webhooks/apitest", {"n": 1})
    assert delivered[0] == 202, delivered
    deadline = time.monotonic() + 30  # the delivery is accepted before its rule is enforced
    while not server.http("GET", "/api/v1/ruleenforcements?rule_ref=apitest.on_hook")[2]:
        assert time.monotonic() < deadline, "the webhook's rule was never enforced"
        time.sleep(0.1)

    def body(browser: Browser) -> None:
        context, page = signed_in(browser, server, "alice")
        page.goto("/ui/audit")
        row = page.locator("tr", has_text="no-such-hook")
        expect(row).to_contain_text("401")
        assert "hunter2" not in page.content()  # neither the body nor the signature
        for name, heading in (
            ("actions", "Actions"), ("audit", "Audit trail"),
            ("datastore", "Datastore"), ("health", "Health"),
        ):  # fmt: skip
            page.goto(f"/ui/{name}")
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            shot(page, screenshots, name)
        page.goto("/ui/health")  # what `squall doctor` reports, run inside serve
        expect(page.locator("#doctor")).to_contain_text("ok    store:")
        expect(page.locator("#doctor")).to_contain_text("ok    packs:")
        page.goto("/ui/audit")
        page.locator("tr", has_text="core.st2.webhook").locator("a").first.click()
        expect(page.locator("article")).to_contain_text("apitest.on_hook: matches")
        enforcement = page.locator("li", has_text="apitest.on_hook at")
        expect(enforcement.locator("a")).to_have_attribute("href", re.compile("/ui/executions/"))
        shot(page, screenshots, "trigger-instance")
        page.goto("/ui/executions")
        shot(page, screenshots, "executions-all")
        page.set_viewport_size({"width": 390, "height": 800})
        page.goto("/ui/executions")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the executions page scrolls sideways at phone width ({width}px)"
        shot(page, screenshots, "executions-phone")
        # Keyboard: the first Tab reaches the skip link, every form control has a label.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(e => !e.labels || e.labels.length === 0).length"""
        )
        assert unlabelled == 0
        context.close()

    chromium.run(body, chromium.browser)
