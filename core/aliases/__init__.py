"""Action aliases: the st2 format parser, the matcher, parameters and ack/result rendering."""

from core.aliases.matcher import AliasIndex, AliasMatch, AmbiguousAliasMatch, NoAliasMatch
from core.aliases.parser import AliasParseError, parse

__all__ = [
    "AliasIndex",
    "AliasMatch",
    "AliasParseError",
    "AmbiguousAliasMatch",
    "NoAliasMatch",
    "parse",
]
