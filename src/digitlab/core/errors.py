"""User-facing errors.

A :class:`DigitlabError` carries one line that says what is wrong and how to fix
it. The CLI prints it and exits with status 2; library callers can catch it.
"""


class DigitlabError(Exception):
    """Bad input or a missing prerequisite, explained in one line."""


class TooLargeError(DigitlabError):
    """Input over a size limit (an image's pixels, a request's bytes); servers answer 413."""
