"""``st2 pack install|remove|register`` with the real st2 CLI against a live ``squall serve``.

The CLI posts to ``/api/v1/packs/install``, follows the returned execution on the stream until
it ends, then reads ``result.output.packs_list`` and GETs each pack; ``remove`` checks the pack
is gone. The packs come from tests/fixtures/installable (copied: nothing writes there).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.integration.st2_server import ST2, Server, running_server

INSTALLABLE = FIXTURES / "installable"

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client venv missing: run `make .venv-st2/.installed`"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("st2packs")) as live:
        yield live


def installed_dir(server: Server) -> Path:
    return server.config.parent / "packs"


def copy_of(name: str, into: Path) -> Path:
    target = into / name
    shutil.copytree(INSTALLABLE / name, target)
    return target


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def action_refs(server: Server, pack: str) -> list[str]:
    done = server.st2("action", "list", "-p", pack, "-j")
    assert done.returncode == 0, done.stdout + done.stderr
    if done.stdout.strip() == "No matching items found":
        return []
    return [a["ref"] for a in json.loads(done.stdout)]


def test_install_from_a_folder_run_its_action_then_remove_it(
    server: Server, tmp_path: Path
) -> None:
    source = copy_of("parrot", tmp_path)
    done = server.st2("pack", "install", f"file://{source}", "-j", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    pack = json.loads(done.stdout)
    assert pack["ref"] == "parrot" and pack["version"] == "1.2.3"
    assert (installed_dir(server) / "parrot" / "actions" / "say.yaml").is_file()
    # Loaded right away: listed, and it runs.
    assert action_refs(server, "parrot") == ["parrot.say"]
    run = server.st2_json("run", "parrot.say", "word=polly")
    assert run["status"] == "succeeded" and run["result"]["stdout"] == "parrot says polly"
    # A real execution of packs.install, run by alice, with its task as a child.
    _, _, listed = server.http("GET", "/api/v1/executions?action=packs.install&limit=1")
    _, _, install = server.http("GET", f"/api/v1/executions/{listed[0]['id']}")
    assert install["status"] == "succeeded"
    assert install["context"]["user"] == "alice"
    assert install["result"]["output"]["packs_list"] == ["parrot"]
    children = server.http("GET", f"/api/v1/executions/{install['id']}/children")[2]
    assert [c["action"]["ref"] for c in children] == ["packs.install_packs"]

    removed = server.st2("pack", "remove", "parrot", "-j", timeout=120)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert json.loads(removed.stdout)["ref"] == "parrot"
    assert not (installed_dir(server) / "parrot").exists()
    assert action_refs(server, "parrot") == []
    status, _, body = server.http("GET", "/api/v1/packs/parrot")
    assert status == 404, body


def test_install_from_a_bare_git_repository_at_a_tag(server: Server, tmp_path: Path) -> None:
    work = copy_of("parrot", tmp_path / "work")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "v1", cwd=work)
    git("tag", "v1", cwd=work)
    (work / "actions" / "say.yaml").unlink()  # after the tag: the tag still has it
    git("commit", "-q", "-am", "drop say", cwd=work)
    bare = tmp_path / "parrot.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)

    # Not a file:// source: the CLI first asks the (absent) pack index, ignoring its error.
    done = server.st2("pack", "install", f"{bare}=v1", "-j", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ref"] == "parrot"
    assert action_refs(server, "parrot") == ["parrot.say"]
    assert not (installed_dir(server) / "parrot" / ".git").exists()
    # The same repository as a file:// URL, at its default branch (where say.yaml is gone):
    # the pack is replaced, and its action unloaded.
    done = server.st2("pack", "install", f"file://{bare}", "-j", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert action_refs(server, "parrot") == []
    assert server.http("GET", "/api/v1/packs/parrot")[0] == 200
    assert server.st2("pack", "remove", "parrot", "-j", timeout=120).returncode == 0


def test_an_invalid_pack_fails_the_execution_and_changes_nothing(
    server: Server, tmp_path: Path
) -> None:
    source = copy_of("broken_pack", tmp_path)
    done = server.st2("pack", "install", f"file://{source}", timeout=120)
    assert done.returncode == 1
    assert "failed" in done.stdout
    assert "broken_pack/actions/bad.yaml" in done.stdout, done.stdout
    assert "no-such-runner" in done.stdout
    assert not (installed_dir(server) / "broken_pack").exists()
    status, _, _ = server.http("GET", "/api/v1/packs/broken_pack")
    assert status == 404


def test_a_missing_source_fails_with_a_clear_message(server: Server, tmp_path: Path) -> None:
    done = server.st2("pack", "install", f"file://{tmp_path}/nowhere", timeout=120)
    assert done.returncode == 1
    assert "nowhere: no such folder" in done.stdout, done.stdout
    # A name st2 would look up in the Exchange index: Squall has none, and says what to do.
    done = server.st2("pack", "install", "some_exchange_pack", timeout=120)
    assert done.returncode == 1 and "no such folder" in done.stdout, done.stdout
    search = server.st2("pack", "search", "aws")
    assert search.returncode != 0 and "no pack index" in search.stdout + search.stderr


def test_removing_a_pack_that_is_not_installed_fails(server: Server) -> None:
    done = server.st2("pack", "remove", "core", timeout=120)
    assert done.returncode == 1
    assert "not installed in" in done.stdout, done.stdout
    assert "core.local" in action_refs(server, "core")


def test_install_remove_and_register_are_for_admins_only(server: Server, tmp_path: Path) -> None:
    source = copy_of("parrot", tmp_path)
    for user in ("bob", "carol"):
        done = server.st2("pack", "install", f"file://{source}", user=user, timeout=60)
        assert done.returncode != 0
        assert "403" in done.stdout + done.stderr, done.stdout + done.stderr
        done = server.st2("pack", "remove", "apitest", user=user, timeout=60)
        assert done.returncode != 0 and "403" in done.stdout + done.stderr
        status, _, body = server.http("POST", "/api/v1/packs/register", {}, user=user)
        assert status == 403, body
    assert not (installed_dir(server) / "parrot").exists()
    assert server.http("GET", "/api/v1/packs/apitest")[0] == 200


def test_register_reloads_content_from_the_pack_files(server: Server, tmp_path: Path) -> None:
    shutil.copytree(INSTALLABLE / "parrot", installed_dir(server) / "parrot")
    try:
        counts = server.st2_json("pack", "register")
        assert counts["actions"] >= 1 and counts["packs"] >= 4
        assert action_refs(server, "parrot") == ["parrot.say"]
    finally:
        shutil.rmtree(installed_dir(server) / "parrot")
        server.st2_json("pack", "register")
    assert action_refs(server, "parrot") == []
