"""Squall's stand-in for StackStorm's ``st2tests``: what pack unit tests import.

``squall pack test`` puts it on the tests' path (as ``st2-run-pack-tests`` puts st2's).
"""
