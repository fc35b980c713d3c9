#!/usr/bin/env python3
"""The Python path for twinscan's `prepare`, as an anchor for speed and a reference for tests.

Does what `prepare` does, the way a Python pipeline would: read each scan's CT and masks
(pynrrd / nibabel for the deepmind layout; pydicom + rt-utils for DICOM CT + RTSTRUCT),
orient to row 0 anterior / column 0 patient right / slice 0 inferior, per-slice presence test
with numpy (label 1 / -1, 0 when a structure is absent), in-plane resize of the HU slice with
cv2.resize(INTER_LINEAR) (the same half-pixel rule as twinscan), HU window to uint8, one PNG
per slice (cv2.imwrite) and labels.csv. Scans are spread over `--workers` processes.

Environment (outside the repository):
    python3 -m venv /work/venvs/prepare
    /work/venvs/prepare/bin/pip install pynrrd nibabel numpy rt-utils    # rt-utils pulls opencv-python, pydicom

Usage:
    prepare_python_anchor.py --input DIR --out DIR [--layout deepmind|dicom] [--size 128]
        [--window 40:400] [--workers 2] [--repeat 1] [--reference]

Prints one JSON line: scans, slices, seconds of each repeat, median, slices per second.
`--reference` also prints per-structure totals (positive slices, negative slices, sum of
z_mm over positive slices) used as independent reference numbers by twinscan's tests.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from multiprocessing import Pool

import numpy as np

CANONICAL = [
    "Brain", "Brainstem", "Bone_Mandible", "Cochlea_L", "Cochlea_R", "Glnd_Lacrimal_L",
    "Glnd_Lacrimal_R", "Lens_L", "Lens_R", "Lung_L", "Lung_R", "OpticNrv_cnv_L",
    "OpticNrv_cnv_R", "Eye_L", "Eye_R", "Parotid_L", "Parotid_R", "SpinalCanal", "SpinalCord",
    "Glnd_Submand_L", "Glnd_Submand_R",
]
BASES = {
    "brain": "Brain", "brainstem": "Brainstem", "cochlea": "Cochlea", "lacrimal": "Glnd_Lacrimal",
    "lens": "Lens", "lung": "Lung", "mandible": "Bone_Mandible", "optic_nerve": "OpticNrv_cnv",
    "orbit": "Eye", "parotid": "Parotid", "spinal_canal": "SpinalCanal",
    "spinal_cord": "SpinalCord", "submandibular": "Glnd_Submand",
}


def canonical(name):
    n = name.strip().lower().replace("-", "_").replace(" ", "_")
    for c in CANONICAL:
        if n == c.lower():
            return c
    side = None
    for suf, s in (("_lt", "_L"), ("_rt", "_R")):
        if n.endswith(suf):
            n, side = n[: -len(suf)], s
    base = BASES.get(n)
    if base is None:
        return None
    return base + (side or "")


def find_scans(root, layout):
    out = []
    frontier = [os.path.join(root, d) for d in sorted(os.listdir(root))]
    for depth in range(3):
        nxt = []
        for d in frontier:
            if not os.path.isdir(d):
                continue
            names = os.listdir(d)
            if layout == "deepmind" and ("segmentations" in names or any(n.startswith("CT_IMAGE") for n in names)):
                out.append(d)
            elif layout == "dicom" and any(n.lower().endswith(".dcm") for n in names):
                out.append(d)
            elif depth < 2:
                nxt += [os.path.join(d, n) for n in sorted(names)]
        frontier = nxt
    return out


def read_volume(path):
    """Returns (data[i, j, k] float or int, 3x3 directions (rows = axes, LPS), origin LPS)."""
    if path.endswith(".nrrd"):
        import nrrd
        data, h = nrrd.read(path)
        dirs = np.array(h["space directions"], dtype=float)
        origin = np.array(h["space origin"], dtype=float)
        if h.get("space", "left-posterior-superior") in ("right-anterior-superior", "RAS"):
            dirs[:, :2] *= -1
            origin[:2] *= -1
        return data, dirs, origin
    import nibabel as nib
    img = nib.load(path)
    a = img.affine.copy()
    a[:2, :] *= -1  # RAS -> LPS
    return np.asarray(img.dataobj), a[:3, :3].T, a[:3, 3]


def canonicalise(data, dirs, origin):
    """Flip axes whose direction runs against +x/+y/+z (axis-aligned grids)."""
    for ax in range(3):
        if dirs[ax, ax] < 0:
            origin = origin + dirs[ax] * (data.shape[ax] - 1)
            dirs = dirs.copy()
            dirs[ax] *= -1
            data = np.flip(data, axis=ax)
    return data, dirs, origin


def window_u8(hu, level, width):
    lo = level - width / 2.0
    return np.clip(np.rint(np.clip((hu - lo) / width, 0, 1) * 255.0), 0, 255).astype(np.uint8)


def write_slices(ct_kji, size, windows, img_dir, cv2):
    """ct_kji: (slices, rows, cols) float32 HU. Writes PNGs, returns relative names."""
    names = []
    for k in range(ct_kji.shape[0]):
        small = cv2.resize(ct_kji[k], (size, size), interpolation=cv2.INTER_LINEAR)
        img = np.concatenate([window_u8(small, lv, wd) for lv, wd in windows], axis=0)
        name = os.path.join(img_dir, "%04d.png" % k)
        cv2.imwrite(name, img)
        names.append(name)
    return names


def process_deepmind(job):
    scan, root, out, size, windows = job
    import cv2
    ct_path = [os.path.join(scan, n) for n in os.listdir(scan) if n.startswith("CT_IMAGE")][0]
    data, dirs, origin = canonicalise(*read_volume(ct_path))
    ct = np.ascontiguousarray(np.transpose(data.astype(np.float32), (2, 1, 0)))  # k, j, i
    n = ct.shape[0]
    z = origin[2] + dirs[2, 2] * np.arange(n)
    labels = {}
    seg = os.path.join(scan, "segmentations")
    for f in sorted(os.listdir(seg)) if os.path.isdir(seg) else []:
        stem = f.split(".")[0]
        name = canonical(stem)
        if name is None:
            continue
        m, mdirs, morigin = canonicalise(*read_volume(os.path.join(seg, f)))
        if m.shape != data.shape or not np.allclose(morigin, origin, atol=1e-3):
            raise ValueError("%s: grid differs from the CT's" % f)
        present = m.any(axis=(0, 1))
        labels[name] = np.where(present, 1, -1).astype(np.int8)
    rel = os.path.relpath(scan, root)
    img_dir = os.path.join(out, "images", rel.replace(os.sep, "__"))
    os.makedirs(img_dir, exist_ok=True)
    names = write_slices(ct, size, windows, img_dir, cv2)
    return rel, os.path.basename(scan), z, labels, names


def process_dicom(job):
    scan, root, out, size, windows = job
    import cv2
    from rt_utils import RTStructBuilder
    rs = [os.path.join(scan, n) for n in os.listdir(scan) if n.upper().startswith("RS")][0]
    rt = RTStructBuilder.create_from(dicom_series_path=scan, rt_struct_path=rs)
    series = rt.series_data  # sorted by rt-utils along the slice normal (ascending)
    ct = np.stack([s.pixel_array.astype(np.float32) * float(s.RescaleSlope) + float(s.RescaleIntercept) for s in series])
    z = np.array([float(s.ImagePositionPatient[2]) for s in series])
    labels = {}
    for roi in rt.get_roi_names():
        name = canonical(roi)
        if name is None:
            continue
        m = rt.get_roi_mask_by_name(roi)  # rows, cols, slices
        labels[name] = np.where(m.any(axis=(0, 1)), 1, -1).astype(np.int8)
    rel = os.path.relpath(scan, root)
    img_dir = os.path.join(out, "images", rel.replace(os.sep, "__"))
    os.makedirs(img_dir, exist_ok=True)
    names = write_slices(ct, size, windows, img_dir, cv2)
    return rel, str(series[0].PatientID), z, labels, names


def run_once(args, windows):
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(os.path.join(args.out, "images"))
    scans = find_scans(args.input, args.layout)
    jobs = [(s, args.input, args.out, args.size, windows) for s in scans]
    fn = process_deepmind if args.layout == "deepmind" else process_dicom
    t0 = time.perf_counter()
    if args.workers > 1:
        with Pool(args.workers) as pool:
            results = pool.map(fn, jobs, chunksize=1)
    else:
        results = [fn(j) for j in jobs]
    slices = 0
    with open(os.path.join(args.out, "labels.csv"), "w") as f:
        f.write("scan,patient,slice,z_mm,image," + ",".join(CANONICAL) + "\n")
        for rel, patient, z, labels, names in results:
            n = len(z)
            slices += n
            cols = [labels.get(c, np.zeros(n, np.int8)) for c in CANONICAL]
            for k in range(n):
                f.write("%s,%s,%d,%.3f,%s,%s\n" % (rel, patient, k, z[k], names[k],
                                                   ",".join(str(int(c[k])) for c in cols)))
    return time.perf_counter() - t0, len(scans), slices, results


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--layout", default="deepmind", choices=["deepmind", "dicom"])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--window", action="append", default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--reference", action="store_true")
    args = p.parse_args()
    windows = [tuple(float(x) for x in w.split(":")) for w in (args.window or ["40:400"])]
    times = []
    for _ in range(args.repeat):
        t, nscans, slices, results = run_once(args, windows)
        times.append(t)
    med = statistics.median(times)
    print(json.dumps({"path": "python", "layout": args.layout, "scans": nscans, "slices": slices,
                      "seconds": [round(t, 3) for t in times], "median_s": round(med, 3),
                      "slices_per_s": round(slices / med, 1), "workers": args.workers}))
    if args.reference:
        totals = {}
        for rel, patient, z, labels, names in results:
            for name, lab in labels.items():
                t = totals.setdefault(name, [0, 0, 0.0, 0])
                t[0] += int((lab == 1).sum())
                t[1] += int((lab == -1).sum())
                t[2] += float(z[lab == 1].sum())
                t[3] += 1
        for name in CANONICAL:
            if name in totals:
                pos, neg, zs, nfiles = totals[name]
                print("%s,%d,%d,%.1f,%d" % (name, pos, neg, zs, nfiles))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
