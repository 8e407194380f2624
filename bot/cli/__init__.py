"""The ``squall`` command line: the parser, then one module per command group."""
