"""Pack sensors: each in its own supervised process, dispatching through the rules engine."""
