"""Who may do what: users, roles, allow/deny rules, their settings, the audit log."""
