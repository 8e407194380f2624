"""``squall pack install|setup-venv|remove``: packs and their virtualenvs, as ``st2 pack``.

``install SOURCE...`` copies each pack (a folder, or a git repository with ``=ref``) into the
first of ``packs.paths`` and builds ``<packs.virtualenvs_dir>/<pack>`` from its
``requirements.txt`` with ``packs.pip_args``; items that will not load are listed (they are
skipped at start, the rest of the pack runs). A running ``serve`` loads new packs when it
restarts; a rebuilt venv is picked up by the next execution.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
from pathlib import Path
from typing import Any

from bot.app import BUNDLED_PACKS, load_content, pack_python_settings
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import SubParsers
from bot.settings import Settings
from core.packs.errors import PackError
from core.packs.install import SourceError, install_pack, parse_source, remove_pack, setup_venv
from core.packs.install.tests import prepare_pack_tests
from core.packs.manifest import read_manifest
from core.packs.paths import PackDir


def add_pack_install_parsers(
    pack_sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    install = pack_sub.add_parser(
        "install", parents=[common], help="install packs from folders or git (SOURCE[=REF])"
    )
    install.add_argument("sources", nargs="+", metavar="SOURCE")
    install.add_argument("--no-venv", action="store_true", help="do not build a virtualenv")
    install.set_defaults(handler=pack_install)
    venv = pack_sub.add_parser("setup-venv", parents=[common], help="(re)create a pack's venv")
    venv.add_argument("packs", nargs="+", metavar="PACK")
    venv.set_defaults(handler=pack_setup_venv)
    remove = pack_sub.add_parser("remove", parents=[common], help="delete installed packs")
    remove.add_argument("packs", nargs="+", metavar="PACK")
    remove.set_defaults(handler=pack_remove)
    test = pack_sub.add_parser(
        "test", parents=[common], help="run a pack's own tests/ (as st2-run-pack-tests)"
    )
    test.add_argument("path", help="the pack's folder")
    test.add_argument(
        "--pytest-args", default="", metavar="ARGS", help='for pytest, e.g. --pytest-args="-k x"'
    )
    test.set_defaults(handler=pack_test)


def install_dir(settings: Settings) -> Path:
    if not settings.packs.paths:
        raise SourceError("packs.paths is empty: name a folder there to install packs into")
    return settings.packs.paths[0]


async def pack_install(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    target = install_dir(settings)
    sources = [parse_source(text) for text in args.sources]  # all checked before any install
    reports: list[dict[str, Any]] = []
    lines: list[str] = []
    for source in sources:
        done = install_pack(
            source,
            target,
            python=pack_python_settings(settings),
            context_paths=[BUNDLED_PACKS, *settings.packs.paths],
            config_dir=settings.packs.config_dir,
            pip_args=settings.packs.pip_args,
            venv=not args.no_venv,
        )
        skipped = [str(e) for e in done.skipped]
        warnings = [str(e) for e in done.problems if e.warning]
        reports.append(
            {
                "source": str(source),
                "ref": done.ref,
                "path": str(done.path),
                "venv": str(done.venv) if done.venv else None,
                "skipped": skipped,
                "warnings": warnings,
            }
        )
        venv = f", venv {done.venv}" if done.venv else ""
        lines.append(f"installed {done.ref} into {done.path}{venv}")
        lines += [f"  will not load: {e}" for e in skipped]
        lines += [f"  warning: {e}" for e in warnings]
    emit(args, reports, "\n".join(lines))
    return 0


async def pack_setup_venv(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    packs = load_content(settings).index.packs
    unknown = [ref for ref in args.packs if ref not in packs]
    if unknown:
        raise SourceError(f"not a loaded pack: {', '.join(unknown)}")
    built = []
    for ref in args.packs:
        venv = setup_venv(
            pack_python_settings(settings), ref, packs[ref].path, settings.packs.pip_args
        )
        built.append({"ref": ref, "venv": str(venv)})
    emit(args, built, "\n".join(f"{b['ref']}: venv {b['venv']}" for b in built))
    return 0


async def pack_remove(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    target = install_dir(settings)
    removed = {
        ref: remove_pack(ref, target, python=pack_python_settings(settings)) for ref in args.packs
    }
    human = "\n".join(f"removed {', '.join(items)}" for items in removed.values())
    emit(args, removed, human)
    return 0


async def pack_test(args: argparse.Namespace) -> int:
    """pytest's own output on the terminal; its exit code is the command's."""
    settings = settings_for(args)
    path = Path(args.path).resolve()
    errors: list[PackError] = []
    manifest = read_manifest(PackDir.at(path), errors)
    if not manifest.valid:
        raise SourceError("; ".join(str(e) for e in errors) or f"{path}: not a pack")
    run = prepare_pack_tests(
        path,
        manifest.ref,
        pack_python_settings(settings),
        settings.packs.pip_args,
        shlex.split(args.pytest_args),
    )
    process = await asyncio.create_subprocess_exec(*run.argv, env=run.env, cwd=run.cwd)
    return await process.wait()
