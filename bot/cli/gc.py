"""``squall gc``: one garbage-collection pass now, with the TTLs of the config (for cron)."""

from __future__ import annotations

import argparse
import dataclasses

from bot.app import gc_policy
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import SubParsers
from core.models import utcnow
from core.store import open_store
from core.store.gc import GarbageCollector


def add_gc_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    gc = sub.add_parser("gc", parents=[common], help="delete records older than the gc TTLs now")
    gc.set_defaults(handler=gc_command)


async def gc_command(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    store = open_store(
        settings.store.url, base_dir=str(settings.base_dir), driver=settings.store.driver
    )
    await store.open()
    try:
        collector = GarbageCollector(store, gc_policy(settings), now=utcnow)
        counts = await collector.run_once(utcnow())
    finally:
        await store.close()
    emit(args, dataclasses.asdict(counts), f"deleted {counts}")
    return 0
