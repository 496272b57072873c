"""The exit codes of every `hotline` command and the one error a command raises to leave with one.

A command returns `EXIT_OK` or raises `CliError`: its message is the one line printed on stderr,
its code the exit code (`EXIT_FAILED` unless told otherwise).
"""

from __future__ import annotations

from typing import Final

#: Done (a period without orders, an empty list: still done).
EXIT_OK: Final = 0
#: Refused, or something needed (Temporal, the database) could not be used; the line says which.
EXIT_FAILED: Final = 1
#: A wrong argument or input, named before anything was sent or touched.
EXIT_USAGE: Final = 2
#: Ctrl-C.
EXIT_INTERRUPTED: Final = 130


class CliError(Exception):
    """A failure to report in one line, with its exit code.

    Args:
        message: The line on stderr: what was wrong and what is allowed.
        code: The exit code.
    """

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code
