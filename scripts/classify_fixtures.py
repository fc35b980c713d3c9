#!/usr/bin/env python3
"""Reference numbers for twinscan-classify's tests (metrics, report, loss).

Writes small fixtures under crates/classify/tests/data/ (committed):

- predictions.csv        a tiny test split in twinscan's predictions.csv layout
                         (scan,patient,slice,structure,label,prob); label 0 = unknown
- metrics_expected.json  per structure, computed by scikit-learn over known labels only:
                         confusion matrix, macro F1 (default call and labels=[0,1] with each
                         zero_division), AUROC; explicit patient resamples (bootstrap
                         replicates with given multiplicities); numpy percentiles; mean/sd
- loss_fixture.json      logits, tri-state labels and PyTorch's weighted CrossEntropyLoss /
                         BCEWithLogitsLoss values and gradients (float64)

Environment (outside the repository):
    python3 -m venv /work/venvs/sk
    /work/venvs/sk/bin/pip install numpy scikit-learn torch
Run from the repository root:
    /work/venvs/sk/bin/python scripts/classify_fixtures.py
"""

import csv
import json
import os
import warnings

import numpy as np
import sklearn
import torch
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score
from sklearn.exceptions import UndefinedMetricWarning

OUT = os.path.join("crates", "classify", "tests", "data")
THRESHOLD = 0.5  # predicted positive iff prob > threshold (argmax of the logit pair)


def nan_to_none(x):
    x = float(x)
    return None if np.isnan(x) else x


def make_predictions(rng):
    """Eight patients, some with two scans, a handful of slices each, seven structures."""
    rows = []
    patients = [f"P{i:02d}" for i in range(8)]
    scans = []
    for i, p in enumerate(patients):
        n_scans = 2 if i in (1, 4) else 1
        for k in range(n_scans):
            scans.append((f"{p}_S{k}", p, int(rng.integers(4, 9))))

    def emit(structure, label_fn, prob_fn):
        for scan, patient, n_slices in scans:
            lab_scan = label_fn(scan, patient, n_slices)
            for z in range(n_slices):
                label = int(lab_scan[z])
                prob = float(prob_fn(label))
                rows.append((scan, patient, z, structure, label, prob))

    # Brain: mixed labels, a few unknown scans, noisy probabilities.
    def brain_labels(scan, patient, n):
        if scan in ("P03_S0",):
            return np.zeros(n, dtype=int)
        return np.where(rng.random(n) < 0.45, 1, -1)

    def noisy(label):
        base = 0.7 if label == 1 else 0.3
        return round(float(np.clip(base + rng.normal(0, 0.25), 0.0, 1.0)), 6)

    emit("Brain", brain_labels, noisy)

    # Mandible: probabilities rounded to one decimal: ties within and across classes, and
    # probabilities exactly at the threshold.
    def mandible_labels(scan, patient, n):
        return np.where(rng.random(n) < 0.5, 1, np.where(rng.random(n) < 0.15, 0, -1))

    def coarse(label):
        base = 0.6 if label == 1 else 0.4
        return round(float(np.clip(base + rng.normal(0, 0.2), 0.0, 1.0)), 1)

    emit("Mandible", mandible_labels, coarse)

    # Lens_L: only negatives among known labels; some false positives.
    def negatives_some_unknown(scan, patient, n):
        return np.where(rng.random(n) < 0.2, 0, -1)

    def mostly_low(label):
        return round(float(np.clip(rng.normal(0.3, 0.2), 0.0, 1.0)), 6)

    emit("Lens_L", negatives_some_unknown, mostly_low)

    # Lens_R: only negatives among known labels, all predicted negative.
    emit("Lens_R", negatives_some_unknown, lambda label: round(float(rng.uniform(0.0, 0.45)), 6))

    # Cochlea_L: only positives among known labels, some false negatives.
    emit(
        "Cochlea_L",
        lambda s, p, n: np.where(rng.random(n) < 0.3, 0, 1),
        lambda label: round(float(np.clip(rng.normal(0.65, 0.2), 0.0, 1.0)), 6),
    )

    # Parotid_R: never delineated (all unknown).
    emit("Parotid_R", lambda s, p, n: np.zeros(n, dtype=int), mostly_low)

    # SpinalCord: perfectly separated.
    emit(
        "SpinalCord",
        lambda s, p, n: np.where(rng.random(n) < 0.5, 1, -1),
        lambda label: round(float(rng.uniform(0.55, 1.0) if label == 1 else rng.uniform(0.0, 0.45)), 6),
    )
    return rows


def structure_metrics(labels, probs, threshold):
    known = labels != 0
    y = (labels[known] == 1).astype(int)
    p = probs[known]
    pred = (p > threshold).astype(int)
    out = {"n_known": int(known.sum())}
    if y.size == 0:
        out.update(tn=0, fp=0, fn=0, tp=0, f1=None, f1_both_zero=None, f1_both_one=None,
                   f1_both_nan=None, auroc=None)
        return out
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    out.update(tn=int(tn), fp=int(fp), fn=int(fn), tp=int(tp))
    out["f1"] = float(f1_score(y, pred, average="macro", zero_division=0))
    out["f1_both_zero"] = float(f1_score(y, pred, average="macro", labels=[0, 1], zero_division=0))
    out["f1_both_one"] = float(f1_score(y, pred, average="macro", labels=[0, 1], zero_division=1))
    out["f1_both_nan"] = nan_to_none(
        f1_score(y, pred, average="macro", labels=[0, 1], zero_division=np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            out["auroc"] = nan_to_none(roc_auc_score(y, p))
        except ValueError:
            out["auroc"] = None
    return out


def metrics_fixture(rows, rng):
    structures = []
    for r in rows:
        if r[3] not in structures:
            structures.append(r[3])
    patients = sorted({r[1] for r in rows})
    per = {}
    for s in structures:
        sel = [r for r in rows if r[3] == s]
        labels = np.array([r[4] for r in sel])
        probs = np.array([r[5] for r in sel])
        per[s] = {
            "threshold_0.5": structure_metrics(labels, probs, 0.5),
            "threshold_0.3": structure_metrics(labels, probs, 0.3),
        }

    # Explicit bootstrap replicates: patients drawn with replacement, rows repeated.
    resamples = []
    for _ in range(6):
        draw = rng.integers(0, len(patients), len(patients))
        counts = np.bincount(draw, minlength=len(patients))
        entry = {"counts": {patients[i]: int(c) for i, c in enumerate(counts)}, "structures": {}}
        for s in structures:
            labels, probs = [], []
            for r in rows:
                if r[3] == s:
                    c = counts[patients.index(r[1])]
                    labels += [r[4]] * c
                    probs += [r[5]] * c
            m = structure_metrics(np.array(labels, dtype=int), np.array(probs), THRESHOLD)
            entry["structures"][s] = {"f1": m["f1"], "auroc": m["auroc"], "n_known": m["n_known"]}
        resamples.append(entry)

    percentiles = []
    for n in (1, 2, 7, 1000):
        a = rng.normal(0.7, 0.1, n)
        percentiles.append({"values": a.tolist(),
                            "p2_5": float(np.percentile(a, 2.5)),
                            "p97_5": float(np.percentile(a, 97.5)),
                            "p50": float(np.percentile(a, 50))})

    mean_sd = []
    for n in (2, 3, 5):
        a = rng.uniform(0.4, 0.9, n)
        mean_sd.append({"values": a.tolist(), "mean": float(np.mean(a)),
                        "sd": float(np.std(a, ddof=1))})

    return {
        "generator": "scripts/classify_fixtures.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "rule": "known = label != 0; y = label == 1; pred = prob > threshold",
        "structures": structures,
        "patients": patients,
        "metrics": per,
        "resamples": resamples,
        "percentiles": percentiles,
        "mean_sd": mean_sd,
    }


def loss_fixture(rng):
    n, s = 6, 4
    logits = rng.normal(0, 1.5, (n, 2 * s)).astype(np.float32)
    single = rng.normal(0, 1.5, (n, s)).astype(np.float32)
    labels = rng.choice([-1, 0, 1], size=(n, s), p=[0.45, 0.2, 0.35])
    labels[2, :] = 0  # a slice with no known label
    labels[:, 3] = 0  # a structure never known in this batch
    labels[0, 0], labels[1, 0] = 1, -1
    cases = []
    for w in ([1.0, 2.0], [0.5, 3.0]):
        weight = torch.tensor(w, dtype=torch.float64)
        lab = torch.tensor(labels)
        known = (lab != 0).to(torch.float64)
        target = (lab == 1).long()
        n_known = float(known.sum())

        # Two logits per structure: pair s is columns (2s, 2s+1).
        x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        ce = torch.nn.CrossEntropyLoss(weight=weight, reduction="none")
        per = torch.stack([ce(x[:, 2 * j:2 * j + 2], target[:, j]) for j in range(s)], dim=1)
        masked = per * known
        total = masked.sum()
        (g_sum,) = torch.autograd.grad(total, x, retain_graph=True)
        mean = total / n_known
        (g_mean,) = torch.autograd.grad(mean, x)

        # Single logit per structure: BCE with class weights (w0 on negatives, w1 on positives).
        y = torch.tensor(single, dtype=torch.float64, requires_grad=True)
        bce = torch.nn.BCEWithLogitsLoss(
            weight=torch.tensor(w[0], dtype=torch.float64),
            pos_weight=torch.tensor(w[1] / w[0], dtype=torch.float64), reduction="none")
        per_b = bce(y, target.to(torch.float64))
        total_b = (per_b * known).sum()
        (gb_sum,) = torch.autograd.grad(total_b, y, retain_graph=True)
        (gb_mean,) = torch.autograd.grad(total_b / n_known, y)

        cases.append({
            "class_weights": w,
            "ce_per_element": per.detach().numpy().tolist(),
            "ce_sum": total.item(), "ce_mean_over_known": mean.item(),
            "ce_grad_sum": g_sum.numpy().tolist(), "ce_grad_mean": g_mean.numpy().tolist(),
            "bce_per_element": per_b.detach().numpy().tolist(),
            "bce_sum": total_b.item(), "bce_mean_over_known": total_b.item() / n_known,
            "bce_grad_sum": gb_sum.numpy().tolist(), "bce_grad_mean": gb_mean.numpy().tolist(),
        })
    return {
        "generator": "scripts/classify_fixtures.py",
        "torch": torch.__version__,
        "layout": "logits [N, 2S]: structure s uses columns 2s (negative) and 2s+1 (positive)",
        "logits": logits.tolist(),
        "single_logits": single.tolist(),
        "labels": labels.tolist(),
        "cases": cases,
    }


def main():
    rng = np.random.default_rng(20261125)
    os.makedirs(OUT, exist_ok=True)
    rows = make_predictions(rng)
    with open(os.path.join(OUT, "predictions.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["scan", "patient", "slice", "structure", "label", "prob"])
        for r in rows:
            w.writerow([r[0], r[1], r[2], r[3], r[4], repr(r[5])])
    with open(os.path.join(OUT, "metrics_expected.json"), "w") as f:
        json.dump(metrics_fixture(rows, rng), f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "loss_fixture.json"), "w") as f:
        json.dump(loss_fixture(rng), f, indent=1)
        f.write("\n")
    print(f"wrote {len(rows)} prediction rows and fixtures to {OUT}")


if __name__ == "__main__":
    main()
