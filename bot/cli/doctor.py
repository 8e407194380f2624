"""``squall doctor``: runs the checks of bot/doctor.py and says what is wrong (exit 1 if any)."""

from __future__ import annotations

import argparse

from bot.chat.render import describe_error
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import SubParsers
from bot.doctor import Report, run_checks
from bot.settings import find_config


def add_doctor_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    doctor = sub.add_parser("doctor", parents=[common], help="check config, store, packs, chat")
    doctor.set_defaults(handler=doctor_command)


async def doctor_command(args: argparse.Namespace) -> int:
    report = Report()
    try:
        settings = settings_for(args)
    except Exception as exc:
        report.fail("config", describe_error(exc))
    else:
        choice = find_config(args.config)
        found = f"{settings.source} (from {choice.how})" if settings.source else choice.how
        report.ok("config", found if settings.source else f"built-in defaults: {found}")
        await run_checks(settings, report)
    data = {"ok": report.problems == 0, "problems": report.problems, "checks": report.lines}
    emit(args, data, "\n".join(report.lines))
    return 1 if report.problems else 0
