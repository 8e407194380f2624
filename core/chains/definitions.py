"""Chain definitions by action, re-read when the chain file changes."""

from __future__ import annotations

from core.models import Action
from core.packs.chains import ChainSpec, load_chain

_Cached = tuple[int, ChainSpec | None, list[str], bool]


class ChainDefinitions:
    def __init__(self) -> None:
        self._cache: dict[str, _Cached] = {}

    def get(self, action: Action) -> tuple[ChainSpec | None, list[str]]:
        """The chain, or None and every problem (file, path, message) as text."""
        cached = self._load(action)
        return cached[1], cached[2]

    def mentions_kv(self, action: Action) -> bool:
        """Whether a template of the chain could read ``st2kv`` (the datastore is loaded then)."""
        return self._load(action)[3]

    def _load(self, action: Action) -> _Cached:
        path = action.entry_point_path
        stamp = path.stat().st_mtime_ns if path is not None and path.is_file() else -1
        cached = self._cache.get(action.ref)
        if cached is not None and cached[0] == stamp:
            return cached
        spec, errors = load_chain(action)
        text = path.read_text("utf-8") if path is not None and path.is_file() else ""
        found = (stamp, spec, [str(e) for e in errors], "st2kv" in text or "system." in text)
        self._cache[action.ref] = found
        return found
