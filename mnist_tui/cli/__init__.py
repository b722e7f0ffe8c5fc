"""The ``mnist-tui`` command: the full-screen app, or a headless command."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from mnist_tui.core.engine.heap import hold_collection, resume_collection
from mnist_tui.core.files.printable import printable

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run; every expected failure is one clear message."""
    degrade_unencodable_output()
    from mnist_tui.cli.exit_codes import ExitCode
    from mnist_tui.cli.options import CliError, config_from_args
    from mnist_tui.cli.parser import build_parser
    from mnist_tui.core.data.mnist import DataError
    from mnist_tui.core.files.native_logs import native_stderr_to_log
    from mnist_tui.core.runs.store import RunError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is not None:
            resume_collection()  # the app turns it back on itself, after its first frame
        # TensorFlow's C++ logs go to a file, not over the app or the progress bars.
        with native_stderr_to_log():
            if args.command is None:
                from mnist_tui.cli.outputs import surviving_a_lost_terminal
                from mnist_tui.ui.app import MnistApp

                app = MnistApp(
                    config=config_from_args(args), data_path=args.data, runs_dir=args.runs_dir
                )
                with surviving_a_lost_terminal():  # a hangup still ends with 129
                    app.run()
                    if app.farewell:  # quit mid-training: which run was saved, after the save
                        print(printable(app.farewell))
                # 1 after an unhandled error (Textual has printed its traceback), 128 + N
                # after quitting on signal N, else 0.
                return app.return_code or ExitCode.OK
            from mnist_tui.cli.commands import COMMANDS
            from mnist_tui.cli.outputs import surviving_outputs

            with surviving_outputs():  # a reader that goes away costs no run
                return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return ExitCode.USAGE
    except DataError as exc:
        print(f"error: {printable(exc.explain())}", file=sys.stderr)
        return ExitCode.DATA
    except RunError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return ExitCode.RUN
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK


LENIENT_ERRORS = frozenset(
    {"replace", "backslashreplace", "namereplace", "xmlcharrefreplace", "ignore"}
)


def degrade_unencodable_output() -> None:
    """Make stdout and stderr write what their encoding cannot hold as escapes
    (``\\u2192``) instead of raising: a ``latin-1`` terminal, a lone surrogate from a file
    name or argument. Called once, at the entry."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", "strict") in LENIENT_ERRORS:
            continue
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]


def run() -> None:
    """Console-script entry point.

    Once TensorFlow is loaded, the process ends at once when ``main`` returns: every run
    is saved and its files closed by then, and the interpreter's own teardown of
    TensorFlow would add about half a second to every command (docs/performance.md).
    Cycle collection is off until the command is known, and for the app until its first
    frame is out: a start allocates much and frees little, and the collections it set
    off cost about 50 ms of that frame.
    """
    hold_collection()
    code = main()
    if "tensorflow" in sys.modules:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a reader gone, a closed stream
                stream.flush()
        os._exit(code)
    raise SystemExit(code)
