"""Loading and validating StackStorm-format packs (st2-format §1-2).

The loader is ``core.packs.loader.load_packs`` and the check ``core.packs.validate.validate_pack``;
this package exports only what content of every kind needs (the index, errors, safe paths), so
the modules the loader calls (e.g. workflow definitions) can import it without a cycle.
"""

from core.packs.errors import PackError
from core.packs.index import ContentIndex, UnknownActionError
from core.packs.paths import UnsafePathError, resolve_inside

__all__ = [
    "ContentIndex",
    "PackError",
    "UnknownActionError",
    "UnsafePathError",
    "resolve_inside",
]
