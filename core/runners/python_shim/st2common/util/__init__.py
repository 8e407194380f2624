"""Helpers of st2's ``st2common.util`` that pack code imports."""
