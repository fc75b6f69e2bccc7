"""Who may do what: users, departments, roles and their grants, record shares, sessions, tokens,
sign-in, the read scopes and write checks every service applies, and the audit log."""
