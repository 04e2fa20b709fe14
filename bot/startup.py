"""The failure an adapter or service raises when the person running the bot must fix something.

Its own module, below everything that raises it: the health server and the adapters raise it,
and `bot.errors` (which knows every fixable failure) turns it into one line.
"""


class StartupError(Exception):
    """A problem the person running the bot must fix (a token, a URL, a port in use)."""
