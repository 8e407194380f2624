"""The ``squall`` command line (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.chat.render import describe_error
from bot.cli import commands
from bot.cli.aliases import add_alias_parser
from bot.cli.apikeys import add_apikey_parser
from bot.cli.doctor import add_doctor_parser
from bot.cli.events import add_event_parsers
from bot.cli.gc import add_gc_parser
from bot.cli.kv import add_key_parser
from bot.cli.packs import add_pack_install_parsers
from bot.cli.reload import add_pack_reload_parser
from bot.cli.rules import add_rule_parser
from bot.cli.sensors import add_sensor_parser
from bot.cli.traces import add_trace_parser
from bot.cli.users import add_user_parser
from bot.cli.workflows import add_inquiry_parser, add_workflow_execution_parsers
from bot.logs import configure_logging
from bot.settings.schema import SERVE_ROLES
from core.models import ExecutionStatus


def common_options(*, defaults: bool) -> argparse.ArgumentParser:
    """``--config``, ``--json``, ``--debug``, accepted before and after the sub-command.

    Only the top-level parser sets defaults: a sub-parser's defaults would overwrite what was
    given before the sub-command (``squall --json run …``), so there they are suppressed.
    """
    value: object = None if defaults else argparse.SUPPRESS
    flag: object = False if defaults else argparse.SUPPRESS
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=value, help="settings file (see `squall doctor`)")
    common.add_argument("--json", action="store_true", default=flag, help="print JSON")
    common.add_argument(
        "--debug", action="store_true", default=flag, help="show tracebacks and debug logs"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="squall",
        parents=[common_options(defaults=True)],
        description="ChatOps-first automation engine.",
    )
    common = common_options(defaults=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run an action: run REF k=v ...")
    run.add_argument("ref", help="action reference, e.g. core.local")
    run.add_argument("params", nargs="*", metavar="k=v", help="parameters, typed by the schema")
    run.add_argument("--async", dest="run_async", action="store_true", help="print id, exit")
    run.set_defaults(handler=commands.run)

    ex = sub.add_parser(
        "execution", parents=[common], help="list, get, cancel, pause, resume or rerun executions"
    )
    ex_sub = ex.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    ex_list = ex_sub.add_parser("list", parents=[common], help="recent executions")
    ex_list.add_argument(
        "--status",
        action="append",
        choices=[str(status) for status in ExecutionStatus],
        help="filter by status (repeatable)",
    )
    ex_list.add_argument("--action", help="filter by action ref")
    ex_list.add_argument("--user", help="filter by user")
    ex_list.add_argument("--limit", type=int, default=50)
    ex_list.set_defaults(handler=commands.execution_list)
    for name, handler in (("get", commands.execution_get), ("cancel", commands.execution_cancel)):
        cmd = ex_sub.add_parser(name, parents=[common], help=f"{name} one execution")
        cmd.add_argument("id")
        cmd.set_defaults(handler=handler)
    add_workflow_execution_parsers(ex_sub, common)

    action = sub.add_parser("action", parents=[common], help="list or show actions")
    action_sub = action.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    action_list = action_sub.add_parser("list", parents=[common], help="all actions")
    action_list.add_argument("--pack", help="only this pack's actions")
    action_list.set_defaults(handler=commands.action_list)
    action_get = action_sub.add_parser("get", parents=[common], help="one action")
    action_get.add_argument("ref")
    action_get.set_defaults(handler=commands.action_get)

    pack = sub.add_parser(
        "pack", parents=[common], help="list, validate, install or remove packs; pack venvs"
    )
    pack_sub = pack.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    pack_sub.add_parser("list", parents=[common], help="loaded packs").set_defaults(
        handler=commands.pack_list
    )
    validate = pack_sub.add_parser("validate", parents=[common], help="check a pack")
    validate.add_argument("path")
    validate.set_defaults(handler=commands.pack_validate)
    add_pack_install_parsers(pack_sub, common)
    add_pack_reload_parser(pack_sub, common)

    add_key_parser(sub, common)
    add_apikey_parser(sub, common)
    add_user_parser(sub, common)
    add_rule_parser(sub, common)
    add_alias_parser(sub, common)
    add_event_parsers(sub, common)
    add_trace_parser(sub, common)
    add_doctor_parser(sub, common)
    add_gc_parser(sub, common)
    add_inquiry_parser(sub, common)
    add_sensor_parser(sub, common)

    serve = sub.add_parser("serve", parents=[common], help="run Squall (console chat, web)")
    serve.add_argument("--no-console", action="store_true", help="no interactive prompt")
    serve.add_argument(
        "--roles",
        help="what this process does, comma-separated (overrides cluster.roles): "
        + ",".join(SERVE_ROLES),
    )
    serve.set_defaults(handler=commands.serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("DEBUG" if args.debug else "WARNING", "text", stream=sys.stderr)
    try:
        code: int = asyncio.run(args.handler(args))
        return code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
