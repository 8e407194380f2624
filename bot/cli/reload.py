"""``squall pack reload``: make the running ``squall serve`` load its content again.

The serve is found as ``doctor`` finds it, on the configured listener; it must use this
config's store (else it is someone else's). It is sent SIGHUP — so this works on the host and
as the user that runs it, like ``kill -HUP`` — and the command waits until ``/healthz`` shows
the reload done, then prints its outcome: the errors, when the serve kept its old content.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time

from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import SubParsers
from bot.doctor import fetch_json

RELOAD_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.1


def add_pack_reload_parser(
    pack_sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    reload = pack_sub.add_parser(
        "reload", parents=[common], help="reload packs, rules, aliases in the running serve"
    )
    reload.set_defaults(handler=pack_reload)


async def pack_reload(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    url = f"http://{settings.http.host}:{settings.http.port}/healthz"
    before = await asyncio.to_thread(fetch_json, url)
    if before is None or "content" not in before:
        raise LookupError(f"no squall serve answers on {url}")
    if before.get("store_id") != settings.store.identity:
        raise LookupError(
            f"the serve on {url} uses store {before.get('store_id')}, "
            f"this config uses {settings.store.identity}"
        )
    generation = before["content"]["generation"]
    os.kill(int(before["pid"]), signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        now = await asyncio.to_thread(fetch_json, url)
        if now is not None and now["content"]["generation"] != generation:
            errors: list[str] = now["content"]["errors"]
            data = {"reloaded": not errors, "errors": errors, "packs": now.get("packs")}
            human = (
                f"reloaded: {now.get('packs')} packs, {now.get('actions')} actions"
                if not errors
                else "not reloaded (the content loaded before stays):\n" + "\n".join(errors)
            )
            emit(args, data, human)
            return 1 if errors else 0
    raise TimeoutError(f"the serve on {url} did not report a reload within 60 s")
