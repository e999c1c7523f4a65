"""Errors a user can cause. Each carries one sentence that says what happened and what to do."""


class UserError(Exception):
    """Something the user can fix (a bad path, a malformed row, an unknown model).

    The CLI prints ``str(error)`` on stderr and exits 1; the TUI shows it in a notification.
    The message is one sentence: what happened, then what to do.
    """


class UsageError(UserError):
    """A bad combination of flags or arguments: the CLI exits 2."""
