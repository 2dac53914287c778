"""The commands that make and score runs: ``train``, ``evaluate`` and ``soup``.
Each has its parser builder (``add_<name>``) beside the function that runs it (``cmd_<name>``)."""

from __future__ import annotations

import argparse

from digitlab.core import config
from digitlab.core.rundir import RunDir
from digitlab.evaluation import evaluate
from digitlab.training import dry_run, make_soup, train

from .parser import BACKENDS, EPILOG, formatter, preset_values


def add_train(sub) -> None:
    """``digitlab train``; defaults that differ by preset are read from the presets."""
    t = sub.add_parser("train", help="train a preset into a run folder", formatter_class=formatter, epilog=EPILOG)
    t.add_argument(
        "--preset",
        default=None,
        help=f"named config in configs/ ({', '.join(config.presets())}); default {config.DEFAULT_PRESET}",
    )
    t.add_argument("--config", metavar="FILE", help="YAML file merged over the preset")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set train.lr=5e-4 (repeatable)",
    )
    t.add_argument("--data", action="append", metavar="SOURCE", help="training source(s), replacing data.sources")
    t.add_argument("--val-fraction", type=float, help=f"validation share {preset_values('data.val_fraction')}")
    t.add_argument("--epochs", type=int, help=f"maximum epochs {preset_values('train.epochs')}")
    t.add_argument("--limit", type=int, help="train on a stratified subset of N images")
    t.add_argument("--seed", type=int, help=f"random seed for split, init and shuffling {preset_values('train.seed')}")
    t.add_argument("--out", metavar="DIR", help="run folder (default: runs/<date>-<preset>)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], help=f"where to train {preset_values('train.device')}")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last.pt")
    t.add_argument(
        "--init",
        metavar="MODEL",
        help="start from this model's weights (fine-tuning): run folder, .pt or 'shipped' "
        f"(train.init_from) {preset_values('train.init_from')}",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch remains)")
    t.add_argument("--dry-run", action="store_true", help="resolve the config, load data, run one batch; write nothing")


def cmd_train(args) -> None:
    if args.resume:
        res = train(resume=args.resume, data_dir=args.data_dir, progress=not args.no_progress, max_epochs=args.epochs)
    else:
        sets = list(args.set)
        for key, value in [
            ("data.val_fraction", args.val_fraction),
            ("train.epochs", args.epochs),
            ("data.limit", args.limit),
            ("train.seed", args.seed),
            ("train.device", args.device),
        ]:
            if value is not None:
                sets.append(f"{key}={value}")
        cfg = config.resolve(args.preset, args.config, sets)
        if args.data:
            cfg["data"]["sources"] = list(args.data)
        if args.init:  # not through --set: a path is not YAML
            cfg["train"]["init_from"] = args.init
        if args.dry_run:
            print(config.dump(cfg), end="")
            print(dry_run(cfg, args.data_dir))
            return
        res = train(cfg, out_dir=args.out, data_dir=args.data_dir, progress=not args.no_progress)
    if res.interrupted:
        raise SystemExit(130)
    if res.rank == 0:  # under torchrun, one line for the run, not one per process
        print(RunDir(res.run_dir).best)


def add_evaluate(sub) -> None:
    """``digitlab evaluate``."""
    e = sub.add_parser(
        "evaluate", help="write report.json/.md and PNGs for a model", formatter_class=formatter, epilog=EPILOG
    )
    e.add_argument(
        "model",
        nargs="*",
        metavar="RUN_DIR_OR_MODEL",
        help="run folder, .pt or .onnx file; several make an ensemble (default: the shipped models/default.pt, else the newest run)",
    )
    e.add_argument(
        "--model",
        dest="models",
        action="append",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="another ensemble member (same as naming it positionally); repeat for each",
    )
    e.add_argument(
        "--tta", action="store_true", help="test-time augmentation: average over 9 fixed small warps of each image"
    )
    e.add_argument(
        "--corruptions",
        action="store_true",
        help="also score MNIST-C-style corruptions of the official test set (about 1 min per model on 2 CPU cores)",
    )
    e.add_argument(
        "--no-rejection", action="store_true", help="skip the not-a-digit AUROC (generated non-digit images)"
    )
    e.add_argument(
        "--data",
        action="append",
        metavar="SOURCE",
        help="evaluate on this labelled data instead of validation + official test",
    )
    e.add_argument(
        "--out",
        metavar="DIR",
        help="report folder (default: <run>/eval; runs/default-model-eval for the shipped model)",
    )
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    e.add_argument("--no-latency", action="store_true", help="skip the speed measurement")
    e.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="torch, onnx (the .onnx export beside each model) or int8 (its .int8.onnx) (auto: by file type)",
    )


def cmd_evaluate(args) -> None:
    models = list(args.model) + list(getattr(args, "models", []))
    rep = evaluate(
        models or None,
        args.data,
        args.out,
        args.data_dir,
        args.device,
        latency=not args.no_latency,
        tta=args.tta,
        corruptions=args.corruptions,
        rejection=not args.no_rejection,
        backend=args.backend,
    )
    for note in rep["notes"]:
        print(f"note: {note}")
    for name, s in rep["sets"].items():
        print(f"{name:<14} accuracy {s['accuracy']:.4%}  ({s['misclassified']} of {s['images']:,} misclassified)")
    if "calibration" in rep:
        c = rep["calibration"]
        print(
            f"calibration    T = {c['temperature']:.3f} (fitted on validation): ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f}"
        )
    if "not_sure" in rep:
        ns = rep["not_sure"]
        print(f"not sure below {ns['threshold']:.4f} confidence (chosen on validation; keeps {ns['coverage']:.2%})")
    if "rejection" in rep:
        rj = rep["rejection"]
        key = "auroc_gate" if rj.get("gate_threshold") is not None else "auroc_max_softmax"
        aurocs = ", ".join(f"{k} {v[key]:.3f}" for k, v in rj["sets"].items())
        print(f"not a digit    AUROC {aurocs}")
        if rj.get("held_out"):
            h = rj["held_out"]
            print(
                f"               held-out families: AUROC {h[key]:.4f}, {h['rejected_at_threshold']:.1%} not answered"
            )
    if "corruptions" in rep:
        print(
            f"corruptions    mean accuracy {rep['corruptions']['mean']:.2%} over {len(rep['corruptions']['accuracy'])}"
        )
    if "latency" in rep:
        lt = rep["latency"]
        big = f"; {lt['batch1024_images_per_s']:,.0f} images/s at batch 1024" if "batch1024_images_per_s" in lt else ""
        print(f"latency        {lt['batch1_ms_p50']:.2f} ms/image at batch 1 ({lt['backend']}){big}")
    print(f"report         {rep['out_dir']}/report.md (and report.json and PNG figures)")


def add_soup(sub) -> None:
    """``digitlab soup``."""
    so = sub.add_parser(
        "soup",
        help="average the weights of runs that share their start (one network, not an ensemble)",
        formatter_class=formatter,
    )
    so.add_argument(
        "model",
        nargs="+",
        metavar="RUN_DIR_OR_MODEL",
        help="two or more runs of one architecture, seed and split that differ in their loss or data",
    )
    so.add_argument(
        "--weights",
        type=float,
        nargs="+",
        metavar="W",
        help="one mixing weight per model, normalised to sum 1 (None: equal weights)",
    )
    so.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the soup's best.pt (evaluate it like a run)"
    )
    so.add_argument(
        "--bn-images",
        type=int,
        default=10000,
        help="training images (of the runs' own split) on which BatchNorm statistics are recomputed",
    )
    so.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    so.add_argument(
        "--bn-data",
        default="augmented",
        choices=["augmented", "clean"],
        help="BatchNorm data: the runs' training mix (static copies, real-time warps) or clean images only",
    )
    so.add_argument(
        "--corruptions",
        action="store_true",
        help="also score the soup on corrupted validation images (about 1 min on 2 CPU cores)",
    )
    so.add_argument("--force", action="store_true", help="replace a best.pt already in --out")


def cmd_soup(args) -> None:
    r = make_soup(
        args.model,
        args.weights,
        args.out,
        args.bn_images,
        args.data_dir,
        args.device,
        args.force,
        corruptions=args.corruptions,
        bn_data=args.bn_data,
    )
    for ing in r["ingredients"]:
        rec = (
            f"val_acc {ing['val_acc']:.4%}, val_loss {ing['val_loss']:.4f}"
            if ing["val_acc"] is not None
            else "no recorded metrics"
        )
        print(f"{ing['weight']:.3f} x {ing['path']}  ({rec})")
    corr = f", corrupted validation {r['val_corruptions_mean']:.2%}" if "val_corruptions_mean" in r else ""
    print(
        f"soup: val_acc {r['val_acc']:.4%} ({r['val_errors']} errors), val_loss {r['val_loss']:.4f}, "
        f"NLL {r['val_nll']:.4f}{corr} (BatchNorm recomputed on {r['soup']['bn_images']:,} {r['soup']['bn_data']} "
        "training images)"
    )
    print(f"wrote {r['path']}; next: digitlab evaluate {args.out}")
