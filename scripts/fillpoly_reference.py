"""Reference masks of OpenCV's cv2.fillPoly for twinscan-data's RTSTRUCT rasteriser.

rt-utils 1.2.7 fills all polygons of one ROI on one slice with a single
`cv2.fillPoly(img, polygons, color=1)` call (line type 8, shift 0). This script draws random
polygon sets (convex, concave, self-intersecting, nested = holes, thin and degenerate ones)
and stores the polygons with cv2's masks; `crates/data/src/dicom/rtstruct.rs` checks its
`fill_poly` against them bit for bit.

Environment: python3 -m venv /work/venvs/rtutils && /work/venvs/rtutils/bin/pip install
rt-utils pydicom opencv-python-headless numpy
Run: /work/venvs/rtutils/bin/python scripts/fillpoly_reference.py \
         crates/data/tests/fixtures/fillpoly_cv2.json
"""

import json
import sys

import cv2
import numpy as np


def random_polygon(rng, w, h):
    kind = rng.integers(0, 5)
    if kind == 0:  # star-ish around a centre: concave
        cx, cy = rng.uniform(4, w - 5), rng.uniform(4, h - 5)
        n = int(rng.integers(3, 13))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(1, min(w, h) / 2.5, n)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    elif kind == 1:  # arbitrary, often self-intersecting
        n = int(rng.integers(3, 9))
        pts = np.stack([rng.uniform(0, w - 1, n), rng.uniform(0, h - 1, n)], 1)
    elif kind == 2:  # thin sliver
        x0, y0 = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
        x1, y1 = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
        pts = np.array([[x0, y0], [x1, y1], [x1 + rng.uniform(-1, 1), y1 + rng.uniform(-1, 1)]])
    elif kind == 3:  # tiny: one or two pixels
        x0, y0 = rng.uniform(1, w - 2), rng.uniform(1, h - 2)
        pts = np.array([[x0, y0], [x0 + rng.uniform(0, 1.2), y0 + rng.uniform(0, 1.2)],
                        [x0, y0 + rng.uniform(0, 1.2)]])
    else:  # axis-aligned rectangle
        x0, y0 = rng.uniform(0, w - 3), rng.uniform(0, h - 3)
        pts = np.array([[x0, y0], [x0 + rng.uniform(1, w / 2), y0],
                        [x0 + rng.uniform(1, w / 2), y0 + rng.uniform(1, h / 2)],
                        [x0, y0 + rng.uniform(1, h / 2)]])
    pts = np.clip(np.around(pts), 0, [w - 1, h - 1]).astype(np.int32)
    return pts


def main(out):
    rng = np.random.default_rng(20240611)
    cases = []
    for case in range(120):
        w, h = (32, 24) if case % 2 else (28, 28)
        polys = [random_polygon(rng, w, h) for _ in range(int(rng.integers(1, 4)))]
        if case % 10 == 0:  # explicit ring: outer square with an inner square hole
            polys = [np.array([[2, 2], [20, 2], [20, 20], [2, 20]], np.int32),
                     np.array([[7, 7], [14, 7], [14, 14], [7, 14]], np.int32)]
        img = np.zeros((h, w), np.uint8)
        cv2.fillPoly(img, polys, 1)
        cases.append({
            "w": w,
            "h": h,
            "polys": [p.tolist() for p in polys],
            "mask": ["".join(str(v) for v in row) for row in img],
        })
    with open(out, "w") as f:
        json.dump({"opencv": cv2.__version__, "cases": cases}, f, separators=(",", ":"))
    print(f"{len(cases)} cases, opencv {cv2.__version__}")


if __name__ == "__main__":
    main(sys.argv[1])
