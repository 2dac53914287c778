"""The ``digitlab`` command line. Argument parsing and printing only: the work is done by the
packages it calls (the commands are in ``lab``, ``runs``, ``readers``, ``use`` and ``mine``). Bad input ends with one line on stderr
and exit status 2; Ctrl-C with status 130."""

from __future__ import annotations

import sys

from digitlab.core.errors import DigitlabError
from digitlab.core.runinfo import __version__

from . import lab, mine, readers, runs, use
from .parser import EPILOG, Parser, formatter


def build_parser() -> Parser:
    p = Parser(
        prog="digitlab",
        description="Handwritten digit recognition: data, training, evaluation, prediction.",
        formatter_class=formatter,
        epilog=EPILOG,
    )
    p.add_argument("--version", action="version", version=f"digitlab {__version__}")
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="dataset cache (default: $DIGITLAB_DATA_DIR, else ~/.cache/digitlab)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for add in (
        lab.add_data,
        lab.add_models,
        runs.add_train,
        runs.add_evaluate,
        runs.add_soup,
        readers.add_gate,
        readers.add_line,
        readers.add_notdigit,
        lab.add_augment,
        use.add_app,
        use.add_predict,
        use.add_export,
        use.add_serve,
        mine.add_mine,
        lab.add_bench,
    ):
        add(sub)  # in the order --help lists them
    return p


COMMANDS = {
    "data": lab.cmd_data,
    "app": use.cmd_app,
    "models": lab.cmd_models,
    "train": runs.cmd_train,
    "evaluate": runs.cmd_evaluate,
    "augment": lab.cmd_augment,
    "predict": use.cmd_predict,
    "export": use.cmd_export,
    "soup": runs.cmd_soup,
    "gate": readers.cmd_gate,
    "line": readers.cmd_line,
    "notdigit": readers.cmd_notdigit,
    "serve": use.cmd_serve,
    "mine": mine.cmd_mine,
    "bench": lab.cmd_bench,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args) or 0
    except DigitlabError as e:
        print(f"digitlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndigitlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `digitlab predict ... | head`
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
