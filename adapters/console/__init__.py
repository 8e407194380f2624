"""The console chat adapter: a terminal (or a pipe) as one chat channel."""

from adapters.console.adapter import ConsoleAdapter, ConsoleLine

__all__ = ["ConsoleAdapter", "ConsoleLine"]
