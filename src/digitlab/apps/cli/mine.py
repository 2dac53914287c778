"""``digitlab mine``: your own corrections, in the local store (:mod:`digitlab.data.mine`)."""

from __future__ import annotations

import time

from digitlab.core.errors import DigitlabError
from digitlab.data.mine import Store, default_path
from digitlab.inference import Predictor
from digitlab.inference.corrections import save_correction

from .parser import EPILOG, Parser, formatter


def add_mine(sub) -> None:
    """``digitlab mine info | add | export | remove | clear``."""
    m = sub.add_parser(
        "mine",
        help="your corrections: digits you labelled, kept in a local database for a personal model",
        formatter_class=formatter,
        epilog=EPILOG,
    )
    m.add_argument(
        "--store", metavar="FILE", help="the store (default: $DIGITLAB_MINE, else mine.sqlite in --data-dir)"
    )
    msub = m.add_subparsers(dest="mine_command", metavar="ACTION", parser_class=Parser)
    msub.required = True
    info = msub.add_parser("info", help="where the store is and how many examples of each digit it holds")
    info.add_argument("--list", action="store_true", help="also one line per example: id, digit, the model's answer")
    add = msub.add_parser("add", help="save images as examples of one digit", formatter_class=formatter)
    add.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files, one digit each")
    add.add_argument("--label", required=True, help="the digit they show, 0-9")
    add.add_argument("--model", default=None, help="the model whose answer is recorded (default: the shipped one)")
    export = msub.add_parser("export", help="write every example as DIR/<digit>/mine-<id>.png (the folder: layout)")
    export.add_argument("dir", metavar="DIR")
    remove = msub.add_parser("remove", help="delete one example by its id (see `info`)")
    remove.add_argument("id", type=int, metavar="ID")
    clear = msub.add_parser("clear", help="delete every example")
    clear.add_argument("--yes", action="store_true", help="really delete them all (nothing is deleted without it)")


def cmd_mine(args) -> None:
    store = Store(args.store or default_path(args.data_dir))
    if args.mine_command == "info":
        counts = store.counts()
        print(f"{store.path}: {sum(counts.values()):,} examples")
        print("  " + "  ".join(f"{d}: {n}" for d, n in counts.items()))
        for e in store.examples() if args.list else []:
            read = "-" if e.answer is None else f"{e.answer} ({e.confidence:.0%})"
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created))
            print(f"  #{e.id}  {e.label}  model read {read}  from {e.source}  {when}")
    elif args.mine_command == "add":
        pred = Predictor.load(args.model)
        for image in args.images:
            try:
                r = save_correction(store, pred, image, args.label, "cli")
            except DigitlabError as e:
                raise DigitlabError(f"{image}: {e}") from None
            print(f"{image}: saved as example {r['id']} of {r['label']} (the model read {r['answer']})")
    elif args.mine_command == "export":
        n = store.export(args.dir)
        print(f"wrote {n:,} images under {args.dir} (use them with --data folder:{args.dir})")
    elif args.mine_command == "remove":
        store.remove(args.id)
        print(f"removed example {args.id}")
    elif not args.yes:
        raise DigitlabError(f"this deletes all {sum(store.counts().values()):,} examples in {store.path}; add --yes")
    else:
        print(f"deleted {store.clear():,} examples from {store.path}")
