"""The commands that train the helper networks: the number reader's ``gate`` and ``line``, and the
``notdigit`` gate in front of the digit reader."""

from __future__ import annotations

from digitlab.core.errors import DigitlabError
from digitlab.inference.export import export_gate
from digitlab.training import train_gate, train_line, train_notdigit
from digitlab.training.gate import RECIPE as GATE_RECIPE
from digitlab.training.line import RECIPE as LINE_RECIPE
from digitlab.training.notdigit import RECIPE as NOTDIGIT_RECIPE

from .parser import formatter


def _common(
    g, recipe: dict, out: str, count: str = "numbers", things: str = "numbers", seeded: str = "numbers"
) -> None:
    """The flags every helper trainer takes; ``count`` names the flag for how many generated
    ``things`` to train on, ``seeded`` what ``--seed`` draws besides init and shuffling."""
    g.add_argument("--out", default=out, metavar="FILE", help=f"where to write it (the shipped one: models/{out})")
    g.add_argument(f"--{count}", type=int, default=recipe[count], help=f"generated {things} to train on")
    g.add_argument("--epochs", type=int, default=recipe["epochs"], help="passes over them")
    g.add_argument("--seed", type=int, default=recipe["seed"], help=f"seed for the {seeded}, init and shuffling")
    g.add_argument("--force", action="store_true", help="replace --out if it exists")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--dry-run", action="store_true", help=f"a few {things} and steps; write nothing")


def _recipe(args, count: str = "numbers") -> dict:
    for name in (count, "epochs"):
        if getattr(args, name) < 1:
            raise DigitlabError(f"--{name} must be at least 1, got {getattr(args, name)}")
    return {count: getattr(args, count), "epochs": args.epochs, "seed": args.seed}


def add_gate(sub) -> None:
    """``digitlab gate``."""
    g = sub.add_parser(
        "gate",
        help="train the number reader's gate (one digit, part of one, or several) on generated numbers",
        formatter_class=formatter,
    )
    _common(g, GATE_RECIPE, "gate.pt")


def cmd_gate(args) -> None:
    m = train_gate(args.out, _recipe(args), args.data_dir, not args.no_progress, args.force, args.dry_run)
    print(
        f"gate: {m['accuracy']:.2%} of {m['stretches']:,} validation stretches right; whole digits kept whole "
        f"{m['digits_kept']:.2%}, parts and pairs refused {m['not_digits_refused']:.2%} ({m['seconds']:.0f} s)"
    )
    if args.dry_run:
        print("dry run: nothing written")
        return
    onnx = export_gate(args.out)  # reading runs the gate in onnxruntime: a quarter of PyTorch's time
    print(f"wrote {args.out} and {onnx['path']} (same kinds as PyTorch within {onnx['max_abs_diff']:.0e})")


def add_line(sub) -> None:
    """``digitlab line``."""
    g = sub.add_parser(
        "line",
        help="train the number reader's line reader (the digits in a piece of touching ink) on generated numbers",
        formatter_class=formatter,
    )
    _common(g, LINE_RECIPE, "line.pt")


def cmd_line(args) -> None:
    m = train_line(args.out, _recipe(args), args.data_dir, not args.no_progress, args.force, args.dry_run)
    print(
        f"line reader: {m['accuracy']:.2%} of {m['pieces']:,} validation pieces read exactly, "
        f"{m['several_accuracy']:.2%} of the {m['several_pieces']:,} holding several digits ({m['seconds']:.0f} s)"
    )
    print("dry run: nothing written" if args.dry_run else f"wrote {args.out}")


def add_notdigit(sub) -> None:
    """``digitlab notdigit``."""
    g = sub.add_parser(
        "notdigit",
        help="train the not-a-digit gate (digit or not?) on MNIST, canvas drawings and generated non-digits",
        formatter_class=formatter,
    )
    _common(g, NOTDIGIT_RECIPE, "notdigit.pt", "negatives", "non-digits", "drawings, non-digits")


def cmd_notdigit(args) -> None:
    recipe = _recipe(args, "negatives")
    m = train_notdigit(args.out, recipe, args.data_dir, not args.no_progress, args.force, args.dry_run)
    print(
        f"not-a-digit gate: threshold {m['threshold']:.4f} calls {m['digits_rejected']:.2%} of "
        f"{m['val_digits']:,} validation digits no digit and {m['not_digits_rejected']:.2%} of "
        f"{m['val_not_digits']:,} validation non-digits (AUROC {m['auroc']:.4f}; {m['seconds']:.0f} s)"
    )
    if args.dry_run:
        print("dry run: nothing written")
        return
    onnx = export_gate(args.out, arch="notdigit")
    print(f"wrote {args.out} and {onnx['path']} (same answers as PyTorch within {onnx['max_abs_diff']:.0e})")
