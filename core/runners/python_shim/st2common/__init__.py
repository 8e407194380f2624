"""Squall's stand-in for StackStorm's ``st2common``: only what pack code imports."""
