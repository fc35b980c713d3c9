#!/usr/bin/env python3
"""Anchor for crates/classify/benches/bootstrap.rs: the same workload shape evaluated the way a
Python user would, with scikit-learn per structure and per bootstrap replicate.

Workload: 30 patients x 150 slices x 21 structures, ~15 % unknown labels, probabilities rounded
to 3 decimals; B bootstrap replicates drawing patients with replacement; per replicate and
structure: confusion matrix, f1_score(average="macro"), roc_auc_score over known labels.

    python3 -m venv /work/venvs/sk && /work/venvs/sk/bin/pip install numpy scikit-learn
    /work/venvs/sk/bin/python scripts/classify_bootstrap_anchor.py [B] [repeats]

Prints the median wall time of the full evaluation (point metrics + B replicates) and of the
point metrics alone. Single-threaded (set OMP_NUM_THREADS=1 etc.; sklearn's metrics are
single-threaded anyway).
"""

import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

P, Z, S = 30, 150, 21


def workload(rng):
    u = rng.random((P, Z, S))
    labels = np.where(u < 0.15, 0, np.where(u < 0.5, 1, -1))
    base = np.where(labels == 1, 0.65, 0.35)
    probs = np.round(np.clip(base + (rng.random((P, Z, S)) - 0.5) * 0.8, 0, 1) * 1000) / 1000
    return labels, probs


def metrics(labels, probs):
    """labels, probs: [n, S] -> per structure (cm, f1, auroc)."""
    out = []
    for s in range(S):
        known = labels[:, s] != 0
        y = (labels[known, s] == 1).astype(int)
        p = probs[known, s]
        pred = (p > 0.5).astype(int)
        cm = confusion_matrix(y, pred, labels=[0, 1])
        f1 = f1_score(y, pred, average="macro", zero_division=0)
        try:
            auc = roc_auc_score(y, p)
        except ValueError:
            auc = np.nan
        out.append((cm, f1, auc))
    return out


def evaluate(labels, probs, b, rng):
    flat_l = labels.reshape(P * Z, S)
    flat_p = probs.reshape(P * Z, S)
    point = metrics(flat_l, flat_p)
    reps = []
    for _ in range(b):
        draw = rng.integers(0, P, P)
        idx = (draw[:, None] * Z + np.arange(Z)[None, :]).ravel()
        reps.append(metrics(flat_l[idx], flat_p[idx]))
    f1 = np.array([[r[s][1] for s in range(S)] for r in reps]) if reps else None
    if f1 is not None:
        np.nanpercentile(f1, [2.5, 97.5], axis=0)
    return point


def main():
    b = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    warnings.simplefilter("ignore", UndefinedMetricWarning)
    rng = np.random.default_rng(0)
    labels, probs = workload(rng)
    for bb in (0, b):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            evaluate(labels, probs, bb, rng)
            times.append(time.perf_counter() - t0)
        print(f"B={bb}: median {np.median(times):.3f} s over {repeats} runs "
              f"({', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":
    main()
