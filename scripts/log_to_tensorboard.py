#!/usr/bin/env python3
"""Converts a twinscan run's log.jsonl into TensorBoard event files.

Works on both kinds of run folder: a pretraining (`log.jsonl` with one "step" line per
optimiser step, one "epoch" line per epoch and an optional "knn_init" line) and a
classification run (one line per epoch). Every numeric field becomes a scalar tag
(`step/loss`, `step/lr_weights`, `epoch/mean_loss`, `epoch/knn/mean_macro_f1`,
`epoch/val_macro_f1`, ...), indexed by optimiser steps done for step lines and by epochs
done for epoch lines (the kNN probe before training sits at epoch 0).

    python3 -m venv .venv-tb && .venv-tb/bin/pip install tensorboard
    .venv-tb/bin/python scripts/log_to_tensorboard.py RUN_DIR [--out RUN_DIR/tensorboard]
    .venv-tb/bin/tensorboard --logdir RUN_DIR/tensorboard

Run it again to refresh: the output folder is rewritten from the whole log each time.
"""
import argparse
import json
import os
import shutil
import sys


def flatten(prefix, value, out):
    """Numeric leaves of a JSON object as (tag, float) pairs."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        out.append((prefix, float(value)))
    elif isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}/{k}" if prefix else k, v, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="run folder holding log.jsonl")
    ap.add_argument("--out", help="event file folder (default RUN/tensorboard)")
    args = ap.parse_args()
    log = os.path.join(args.run, "log.jsonl")
    if not os.path.isfile(log):
        print(f"error: {log}: no such file", file=sys.stderr)
        return 1
    try:
        from tensorboard.summary import Writer
    except ImportError:
        print("error: the `tensorboard` package is needed (pip install tensorboard)", file=sys.stderr)
        return 1
    out = args.out or os.path.join(args.run, "tensorboard")
    if os.path.isdir(out):
        shutil.rmtree(out)
    writer = Writer(out)
    scalars = 0
    with open(log) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                print(f"warning: {log}:{n}: not JSON (cut by an interruption?), skipped", file=sys.stderr)
                continue
            kind = rec.pop("kind", None)
            if kind == "step":
                x, group = int(rec.pop("step")) + 1, "step"
                rec.pop("epoch", None)
            elif kind == "knn_init":
                x, group = 0, "epoch"
            else:
                # Pretraining epoch lines (kind "epoch") and classification epoch lines.
                x, group = int(rec.pop("epoch")) + 1, "epoch"
                rec.pop("step", None)
            pairs = []
            flatten("", rec, pairs)
            for tag, v in pairs:
                writer.add_scalar(f"{group}/{tag}", v, x)
                scalars += 1
    writer.close()
    print(f"{scalars} scalars from {log} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
