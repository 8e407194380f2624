"""Loading and validating StackStorm-format packs (st2-format §1-2)."""

from core.packs.errors import PackError
from core.packs.index import ContentIndex, UnknownActionError
from core.packs.loader import LoadResult, load_packs
from core.packs.paths import UnsafePathError, resolve_inside
from core.packs.validate import validate_pack

__all__ = [
    "ContentIndex",
    "LoadResult",
    "PackError",
    "UnknownActionError",
    "UnsafePathError",
    "load_packs",
    "resolve_inside",
    "validate_pack",
]
