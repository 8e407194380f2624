"""``squall user passwd NAME``: set the password a configured user logs in with (``st2 login``).

The password is read from the terminal without echo (twice), or from stdin with
``--password-stdin`` for scripts; only its scrypt hash is stored.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.app import open_engine
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import SubParsers


def add_user_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    user = sub.add_parser("user", parents=[common], help="API logins of configured users")
    user_sub = user.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    passwd = user_sub.add_parser("passwd", parents=[common], help="set a user's API password")
    passwd.add_argument("name", help="a user configured under users:")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (one line)"
    )
    passwd.set_defaults(handler=user_passwd)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ; nothing changed")
    return first


async def user_passwd(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    async with open_engine(settings_for(args), start=False) as engine:
        await engine.auth.set_password(args.name, password)
    emit(args, {"user": args.name, "password_set": True}, f"password of {args.name} set")
    return 0
