"""The commands that use a finished model: ``predict``, ``export``, ``app`` and ``serve``.
Each has its parser builder (``add_<name>``) beside the function that runs it (``cmd_<name>``)."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path

from digitlab.core.errors import DigitlabError
from digitlab.data import load_image
from digitlab.data.mine import Store, default_path
from digitlab.inference import load_model, write_submission
from digitlab.inference.export import export_onnx
from digitlab.inference.quantize import quantize_int8

from .parser import BACKENDS, formatter


def add_predict(sub) -> None:
    """``digitlab predict``."""
    pr = sub.add_parser("predict", help="read digits from image files", formatter_class=formatter)
    pr.add_argument("images", nargs="*", metavar="IMAGE", help="PNG/JPEG files, any size, either polarity")
    pr.add_argument(
        "--data", metavar="SOURCE", help="predict a whole dataset instead, e.g. csv:test.csv (labels optional)"
    )
    pr.add_argument("--out", metavar="FILE.csv", help="with --data: write a Kaggle submission (ImageId,Label)")
    pr.add_argument(
        "--model",
        metavar="PATH",
        help="run folder, .pt or .onnx file (default: the shipped models/default.pt, else the newest run)",
    )
    pr.add_argument(
        "--number", action="store_true", help="read every digit in each image, left to right (a multi-digit number)"
    )
    pr.add_argument("--json", action="store_true", help="one JSON object per line")
    pr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    pr.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="torch, onnx (the .onnx export beside the model) or int8 (its .int8.onnx) (auto: by file type)",
    )


def cmd_predict(args) -> None:
    if bool(args.images) == bool(args.data):
        raise DigitlabError("give image files or --data SOURCE (one of the two), e.g. digitlab predict digit.png")
    if args.out and not args.data:
        raise DigitlabError("--out writes predictions for a dataset; use it with --data SOURCE")
    if args.number and args.data:
        raise DigitlabError(
            "--number reads image files; give them instead of --data, e.g. digitlab predict --number form.png"
        )
    model = load_model(args.model, args.device, args.backend)
    if args.number:
        _predict_numbers(model, args.images, args.json)
        return
    if args.data:
        results = model.predict_source(args.data, args.data_dir)
        if args.out:
            write_submission(args.out, [r["digit"] for r in results])
            print(f"wrote {args.out}: {len(results):,} predictions (ImageId,Label)")
        for r in results if (args.json or not args.out) else []:
            if args.json:
                print(
                    json.dumps(
                        {
                            "index": r["index"],
                            "digit": r["digit"],
                            "confidence": round(r["confidence"], 6),
                            "probabilities": [round(p, 6) for p in r["probabilities"]],
                        }
                    )
                )
            else:
                print(f"{r['index']}: {r['digit']} ({r['confidence']:.1%})")
        return
    for r in model.predict_files(args.images):
        _print_answer(r, model.threshold, args.json)


def _print_answer(r: dict, threshold: float, as_json: bool) -> None:
    """One file's answer: a JSON object, or a line that says why when no digit is given."""
    if as_json:
        keys = ("file", "digit", "confidence", "probabilities", "empty", "sure", "reason", "message")
        out = {k: r[k] for k in keys}
        out["confidence"], out["probabilities"] = round(r["confidence"], 6), [round(p, 6) for p in r["probabilities"]]
        print(json.dumps(out))
    elif r["reason"] == "not a digit":
        print(f"{r['file']}: not a digit  (That doesn't look like a digit: the not-a-digit gate's call)")
    elif r["empty"]:
        print(f"{r['file']}: {r['digit']} ({r['confidence']:.1%})  (no ink found: blank image)")
    elif not r["sure"]:
        a, b = r["top2"]
        print(
            f"{r['file']}: {r['digit']} ({r['confidence']:.1%})  (not sure: {a} or {b}?, below the model's {threshold:.0%} threshold)"
        )
    else:
        print(f"{r['file']}: {r['digit']} ({r['confidence']:.1%})")


def _predict_numbers(model, files: list[str], as_json: bool) -> None:
    images = [load_image(f) for f in files]  # every file is checked before any is read
    for file, image in zip(files, images):
        try:
            r = model.read_number(image)
        except DigitlabError as e:  # which of several files it was matters
            raise DigitlabError(f"{file}: {e}") from None
        if as_json:
            keys = ("char", "kind", "digit", "confidence", "sure", "reason", "box")
            digits = [
                {k: round(d[k], 6) if k == "confidence" and d[k] is not None else d[k] for k in keys}
                for d in r["digits"]
            ]
            print(json.dumps({"file": file, "text": r["text"], "sure": r["sure"], "digits": digits}))
        elif r["empty"]:
            print(f"{file}: (no ink found: blank image)")
        else:
            unsure = [
                f"mark {i} is no digit"
                if d["kind"] == "not a digit"
                else f"digit {i} is {d['top2'][0]} or {d['top2'][1]}"
                for i, d in enumerate(r["digits"], 1)
                if not d["sure"]
            ]
            print(f"{file}: {r['text']}" + (f"  (not sure: {'; '.join(unsure)})" if unsure else ""))


def add_export(sub) -> None:
    """``digitlab export``."""
    ex = sub.add_parser(
        "export", help="export a model for fast inference (ONNX), checked against PyTorch", formatter_class=formatter
    )
    ex.add_argument(
        "model",
        nargs="?",
        metavar="RUN_DIR_OR_MODEL",
        help="run folder or .pt file (default: the shipped models/default.pt, else the newest run)",
    )
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    ex.add_argument(
        "--quantize",
        choices=["int8"],
        help="int8: onnxruntime static quantization, calibrated on the model's training images and kept only if it "
        "gives the float model's digit on >= 99.8%% of 1,000 validation images and loses <= 0.05 points of "
        "validation accuracy; writes <name>.int8.onnx (use it with --backend int8)",
    )
    ex.add_argument(
        "--out",
        metavar="FILE.onnx",
        help="where to write it (default: beside the model, <name>.onnx or <name>.int8.onnx)",
    )
    ex.add_argument(
        "--check-images",
        type=int,
        default=1000,
        help="images on which the export must agree with PyTorch: official test images, max |diff| <= 1e-4 and "
        "the same digits (with --quantize int8: validation images, the same digit on 99.8%%)",
    )
    ex.add_argument(
        "--force", action="store_true", help="replace an existing --out that is not an export of this model"
    )


def cmd_export(args) -> None:
    if args.check_images < 1:
        raise DigitlabError("--check-images must be at least 1")
    if args.quantize == "int8":
        _export_int8(args)
        return
    r = export_onnx(args.model, args.out, args.data_dir, args.check_images, args.force)
    print(f"wrote {r['path']} ({r['bytes'] / 1e6:.2f} MB) from {r['source']}")
    print(
        f"checked on {r['images']:,} official test images: max |onnx - torch| = {r['max_abs_diff']:.2e} "
        f"(limit {r['tolerance']:.0e}), same digit for {r['same_digit']:,} of {r['images']:,}"
    )


def _export_int8(args) -> None:
    r = quantize_int8(args.model, args.out, args.data_dir, check_images=args.check_images, force=args.force)
    print(f"wrote {r['path']} ({r['bytes'] / 1e6:.2f} MB, int8) from {r['source']}")
    print(
        f"checked on the validation split: same digit as the float model on {r['same_digit']:,} of {r['images']:,}; "
        f"accuracy {r['val_acc_float']:.2%} float, {r['val_acc_int8']:.2%} int8 ({r['val_images']:,} images)"
    )


def add_app(sub) -> None:
    """``digitlab app``."""
    ap = sub.add_parser("app", help="start the drawing app (Streamlit) on this machine", formatter_class=formatter)
    ap.add_argument(
        "--model",
        metavar="PATH",
        help="run folder or .pt file (default: the shipped models/default.pt, else the newest run)",
    )
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 exposes it to your network)")
    ap.add_argument("--port", type=int, default=8501, help="port to listen on")
    ap.add_argument(
        "--store",
        metavar="FILE",
        help="where corrections are saved (default: $DIGITLAB_MINE, else mine.sqlite in --data-dir); "
        "saving is off when the app listens beyond this machine",
    )


def cmd_app(args) -> int:
    from digitlab.apps.streamlit.launch import streamlit_command  # imported here, as in cmd_serve

    model = load_model(args.model)  # fail here, in one line, not inside the page
    _check_listen(args.host, args.port)
    print(f"digitlab app: model {model.path}; open http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    # Streamlit has no login: anyone who could reach a non-loopback app could write to the store.
    store = Store(args.store or default_path(args.data_dir)).path if _loopback(args.host) else None
    if store is None:
        print("digitlab app: saving corrections is off (listening beyond this machine)", flush=True)
    cmd = streamlit_command(Path(model.path), args.host, args.port, store)
    # Become Streamlit rather than wait on it: a SIGTERM to `digitlab app` must stop the server,
    # not leave it running orphaned (a child process would survive its parent's termination).
    os.execv(cmd[0], cmd)


def add_serve(sub) -> None:
    """``digitlab serve``."""
    sv = sub.add_parser("serve", help="REST API and live drawing page (FastAPI + uvicorn)", formatter_class=formatter)
    sv.add_argument(
        "--model",
        metavar="PATH",
        help="run folder, .pt or .onnx file (default: the shipped models/default.pt, else the newest run)",
    )
    sv.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="torch, onnx or int8 (the .int8.onnx export) (auto: onnx when an up-to-date export is beside the model)",
    )
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 exposes it to your network)")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on")
    sv.add_argument("--workers", type=int, default=1, help="server processes, each with its own copy of the model")
    sv.add_argument(
        "--store",
        metavar="FILE",
        help="where /api/examples saves (default: $DIGITLAB_MINE, else mine.sqlite in --data-dir)",
    )


def cmd_serve(args) -> None:
    # imported here: FastAPI and uvicorn take a second to load, which every other command would pay
    import uvicorn

    from digitlab.apps.server.api import configure_worker, create_app

    if args.workers < 1:
        raise DigitlabError("--workers must be at least 1")
    _check_listen(args.host, args.port)
    token = os.environ.get("DIGITLAB_TOKEN") or None
    if token is None and not _loopback(args.host):
        raise DigitlabError(
            f"listening on {args.host} would let anyone who can reach it write to your corrections store; "
            "set DIGITLAB_TOKEN=<a secret> (clients then send 'Authorization: Bearer <secret>'), or use --host 127.0.0.1"
        )
    store = Store(args.store or default_path(args.data_dir))
    configure_worker()
    app = create_app(args.model, args.backend, store=store, token=token)  # a bad --model fails here, in one line
    print(f"digitlab serve: open http://{args.host}:{args.port} (API docs at /docs); Ctrl-C stops it", flush=True)
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return
    os.environ["DIGITLAB_SERVE_MODEL"] = args.model or ""
    os.environ["DIGITLAB_SERVE_BACKEND"] = args.backend
    os.environ["DIGITLAB_SERVE_STORE"] = str(store.path)
    uvicorn.run(
        "digitlab.apps.server.api:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


def _loopback(host: str) -> bool:
    """Only this machine can reach ``host``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost: it may resolve to anything
        return False


def _check_listen(host: str, port: int) -> None:

    if not 1 <= port <= 65535:
        raise DigitlabError(f"--port {port} is not a port number; use 1-65535")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as e:
            raise DigitlabError(f"cannot listen on {host}:{port} ({e.strerror}); pick another with --port") from None
