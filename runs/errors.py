"""Errors that end a run with one line on stderr and exit status 2."""


class ConfigError(Exception):
    """Bad input: the message names the flag or file and says what to do."""
