"""``squall trace list|get``: st2's traces — what an event or a chat command caused, as a tree."""

from __future__ import annotations

import argparse

from bot.app import open_engine
from bot.chat.render import table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import SubParsers
from core.models.execution import isoformat
from core.observe.reader import read_trace
from core.observe.traces import tree_lines

LIST_COLUMNS = ("id", "trace_tag", "start_timestamp")


def add_trace_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    trace = sub.add_parser("trace", parents=[common], help="what an event or command caused")
    trace_sub = trace.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    list_ = trace_sub.add_parser("list", parents=[common], help="recent traces, newest first")
    list_.add_argument("--trace-tag", help="only traces with this tag")
    list_.add_argument("--limit", type=int, default=50)
    list_.set_defaults(handler=trace_list)
    get = trace_sub.add_parser("get", parents=[common], help="one trace as a tree")
    get.add_argument("id", nargs="?", help="trace id (or give --trace-tag)")
    get.add_argument("--trace-tag", help="the newest trace with this tag")
    get.set_defaults(handler=trace_get)


async def trace_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        found = await engine.store.traces.recent(args.limit, args.trace_tag)
    docs = [
        {"id": s.id, "trace_tag": s.tag, "start_timestamp": isoformat(s.start_timestamp)}
        for s in found
    ]
    emit(args, docs, table(docs, LIST_COLUMNS) if docs else "No traces.")
    return 0


async def trace_get(args: argparse.Namespace) -> int:
    if (args.id is None) == (args.trace_tag is None):
        raise ValueError("give a trace id or --trace-tag (one of them)")
    async with open_engine(settings_for(args), start=False) as engine:
        trace = await read_trace(engine.store, trace_id=args.id, tag=args.trace_tag)
        if trace is None:
            what = args.id or f"with tag {args.trace_tag!r}"
            raise LookupError(f"trace {what} not found")
    emit(args, trace.to_st2(), "\n".join(tree_lines(trace)))
    return 0
