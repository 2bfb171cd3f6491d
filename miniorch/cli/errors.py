"""The CLI's one error boundary: every failure reaches the user as one sentence and an exit code.

kubectl's codes (1 error, 2 usage). Our own errors print their message; anything else
(a bug) prints what failed and what to do, never the bare exception text; `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer

from miniorch.errors import MiniorchError


def is_ours(exc: BaseException) -> bool:
    """Raised by miniorch with a message written for the user (every error of ours is one)."""
    return isinstance(exc, MiniorchError)


def sentence(exc: BaseException, argv: list[str]) -> str:
    """What to print after `error: ` for an exception that reached the entry point."""
    if is_ours(exc) and str(exc):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{where}: {exc.strerror.lower()}"
    if isinstance(exc, UnicodeDecodeError):
        return "an input is not UTF-8 text; manifests and templates must be UTF-8"
    verb = " ".join(a for a in argv[1:3] if not a.startswith("-"))
    return (
        f"'miniorch {verb}' stopped on an internal error, a bug in miniorch; "
        "run the command again with --debug to see where, and report it"
    )


def run(app: Callable[..., Any], argv: list[str] | None = None) -> NoReturn:
    """Run the Typer app and exit as kubectl does."""
    argv = sys.argv if argv is None else argv
    debug = "--debug" in argv
    try:
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.exceptions.TyperException as exc:  # usage errors (click's, vendored by typer): exit code 2
        exc.show()  # type: ignore[attr-defined]
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except BrokenPipeError:  # `ctl get pods | head`: the reader is gone, nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:  # the one supervision point of the CLI
        if debug:
            raise
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            sys.exit(1)
        typer.echo(f"error: {sentence(exc, argv)}", err=True)
        sys.exit(1)
