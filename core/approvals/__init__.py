"""Approvals, the approval gate in front of executions, and workflow inquiries."""
