"""The ``digitlab`` command line. Argument parsing and printing only: the work
is done by the modules it calls. Bad input ends with one line on stderr and
exit status 2; Ctrl-C with status 130."""
from __future__ import annotations

import json
import sys

import numpy as np

from .cli_parser import build_parser
from .errors import DigitlabError


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
        if args.init:  # not through --set: a path is not YAML
            cfg["train"]["init_from"] = args.init
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
                   tta=args.tta, corruptions=args.corruptions, rejection=not args.no_rejection, backend=args.backend)
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
        big = f"; {lt['batch1024_images_per_s']:,.0f} images/s at batch 1024" if "batch1024_images_per_s" in lt else ""
        print(f"latency        {lt['batch1_ms_p50']:.2f} ms/image at batch 1 ({lt['backend']}){big}")
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
    model = load_model(args.model, args.device, args.backend)
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
    import os
    from pathlib import Path

    from .app_launch import streamlit_command
    from .inference import load_model

    model = load_model(args.model)  # fail here, in one line, not inside the page
    _check_listen(args.host, args.port)
    print(f"digitlab app: model {model.path}; open http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    cmd = streamlit_command(Path(model.path), args.host, args.port)
    # Become Streamlit rather than wait on it: a SIGTERM to `digitlab app` must stop the server,
    # not leave it running orphaned (a child process would survive its parent's termination).
    os.execv(cmd[0], cmd)


def cmd_export(args) -> None:
    from .export import export_onnx

    if args.check_images < 1:
        raise DigitlabError("--check-images must be at least 1")
    r = export_onnx(args.model, args.out, args.data_dir, args.check_images, args.force)
    print(f"wrote {r['path']} ({r['bytes'] / 1e6:.2f} MB) from {r['source']}")
    print(f"checked on {r['images']:,} official test images: max |onnx - torch| = {r['max_abs_diff']:.2e} "
          f"(limit {r['tolerance']:.0e}), same digit for {r['same_digit']:,} of {r['images']:,}")


def cmd_soup(args) -> None:
    from .soup import make_soup

    r = make_soup(args.model, args.weights, args.out, args.bn_images, args.data_dir, args.device, args.force,
                  corruptions=args.corruptions, bn_data=args.bn_data)
    for ing in r["ingredients"]:
        rec = f"val_acc {ing['val_acc']:.4%}, val_loss {ing['val_loss']:.4f}" if ing["val_acc"] is not None else "no recorded metrics"
        print(f"{ing['weight']:.3f} x {ing['path']}  ({rec})")
    corr = f", corrupted validation {r['val_corruptions_mean']:.2%}" if "val_corruptions_mean" in r else ""
    print(f"soup: val_acc {r['val_acc']:.4%} ({r['val_errors']} errors), val_loss {r['val_loss']:.4f}, "
          f"NLL {r['val_nll']:.4f}{corr} (BatchNorm recomputed on {r['soup']['bn_images']:,} {r['soup']['bn_data']} "
          "training images)")
    print(f"wrote {r['path']}; next: digitlab evaluate {args.out}")


def _check_listen(host: str, port: int) -> None:
    import socket

    if not 1 <= port <= 65535:
        raise DigitlabError(f"--port {port} is not a port number; use 1-65535")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as e:
            raise DigitlabError(f"cannot listen on {host}:{port} ({e.strerror}); pick another with --port") from None


def cmd_serve(args) -> None:
    import os

    import uvicorn

    from .serve import configure_worker, create_app

    if args.workers < 1:
        raise DigitlabError("--workers must be at least 1")
    _check_listen(args.host, args.port)
    configure_worker()
    app = create_app(args.model, args.backend)  # load once here, so a bad --model fails in one line
    print(f"digitlab serve: open http://{args.host}:{args.port} (API docs at /docs); Ctrl-C stops it", flush=True)
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return
    os.environ["DIGITLAB_SERVE_MODEL"] = args.model or ""
    os.environ["DIGITLAB_SERVE_BACKEND"] = args.backend
    uvicorn.run("digitlab.serve:app_from_env", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level="warning")


def cmd_bench(args) -> None:
    from . import bench

    if not 1 <= args.clients <= 256:
        raise DigitlabError("--clients must be between 1 and 256")
    res = bench.run(args.quick, args.model, args.clients, set(args.skip), progress=lambda m: print(m, file=sys.stderr))
    print(bench.table(res))
    if args.json:
        bench.write_json(res, args.json)
        print(f"wrote {args.json}")


COMMANDS = {"data": cmd_data, "app": cmd_app, "models": cmd_models, "train": cmd_train, "evaluate": cmd_evaluate,
            "augment": cmd_augment, "predict": cmd_predict, "export": cmd_export, "soup": cmd_soup,
            "serve": cmd_serve, "bench": cmd_bench}


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
