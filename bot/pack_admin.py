"""Installing and removing packs inside ``squall serve``: what the ``packs`` pack's runner calls
(``POST /api/v1/packs/install|uninstall``, ``st2 pack install|remove``).

The same steps as ``squall pack install|remove`` (core.packs.install), strict: a pack with an
item that would not load is refused and the disk is left as it was. Then the content is
reloaded (bot.reload), so the new pack's actions, rules and aliases are there as soon as the
execution succeeds. One install or removal at a time. Other processes of a cluster see the
change when they reload (``packs.watch``, SIGHUP) from a shared packs folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bot.app import BUNDLED_PACKS, pack_python_settings
from bot.reload import ContentReloads
from core.packs.install import SourceError, install_pack, parse_source, remove_pack
from core.packs.manifest import PACK_REF
from core.runners.pack_manage import PackChange


class PackAdmin:
    def __init__(self, reloads: ContentReloads) -> None:
        self._reloads = reloads
        self._lock = asyncio.Lock()

    async def install(self, sources: Sequence[str], *, force: bool) -> PackChange:
        parsed = [parse_source(text) for text in sources]  # all checked before any install
        settings = self._reloads.engine.settings
        target = _install_dir(self._reloads)
        done: list[str] = []
        warnings: list[str] = []
        async with self._lock:
            try:
                for source in parsed:
                    result = await asyncio.to_thread(
                        install_pack,
                        source,
                        target,
                        python=pack_python_settings(settings),
                        context_paths=[BUNDLED_PACKS, *settings.packs.paths],
                        config_dir=settings.packs.config_dir,
                        pip_args=settings.packs.pip_args,
                        strict=True,
                    )
                    done.append(result.ref)
                    warnings += [f"{result.ref}: {e}" for e in result.problems if e.warning]
            except Exception as exc:
                if done:  # the ones before stay installed: load them, and say so
                    await self._reload(f"pack install of {', '.join(done)}")
                    raise SourceError(f"installed {', '.join(done)}; then {exc}") from exc
                raise
            await self._reload(f"pack install of {', '.join(done)}")
        return PackChange(done, warnings)

    async def uninstall(self, refs: Sequence[str]) -> PackChange:
        bad = [ref for ref in refs if not PACK_REF.fullmatch(ref)]
        if bad:
            raise SourceError(f"not a pack ref: {', '.join(repr(r) for r in bad)}")
        settings = self._reloads.engine.settings
        target = _install_dir(self._reloads)
        async with self._lock:
            missing = [ref for ref in refs if not (target / ref / "pack.yaml").is_file()]
            if missing:
                raise SourceError(
                    f"not installed in {target} (only packs installed there can be removed): "
                    f"{', '.join(missing)}"
                )
            python = pack_python_settings(settings)
            for ref in refs:
                await asyncio.to_thread(remove_pack, ref, target, python=python)
            await self._reload(f"pack removal of {', '.join(refs)}")
        return PackChange(list(refs))

    async def _reload(self, why: str) -> None:
        errors = await self._reloads.reload(why)
        if errors:
            shown = "; ".join(errors[:5]) + (
                f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            )
            raise SourceError(
                f"{why} done on disk, but the content reload found errors, so the content "
                f"loaded before stays until they are fixed: {shown}"
            )


def _install_dir(reloads: ContentReloads) -> Path:
    paths = reloads.engine.settings.packs.paths
    if not paths:
        raise SourceError("packs.paths is empty: name a folder there to install packs into")
    return paths[0]
