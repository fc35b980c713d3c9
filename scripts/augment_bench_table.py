#!/usr/bin/env python3
"""Builds the side-by-side table of docs/benchmarks.md (augmentation section) from one run of

    target/light/release/deps/augment-* --bench --output-format bencher > rust.txt
    /work/venvs/alb208/bin/python scripts/augment_anchor_subset.py v2 a208.json
    /work/venvs/alb131/bin/python scripts/augment_anchor_subset.py v1 a131.json

    python3 scripts/augment_bench_table.py rust.txt a131.json a208.json
"""
import json
import re
import sys

# rust id -> (albumentations 1.3.1 row, 2.0.8 row)
PAIRS = [
    ("resize_128", "resize_128", "resize_128"),
    ("crop_study", "crop_study", "crop_study"),
    ("random_resized_crop", "random_resized_crop", "random_resized_crop"),
    ("brightness_contrast", "brightness_contrast", "brightness_contrast"),
    ("color_jitter", "color_jitter", "color_jitter"),
    ("blur", "blur", "blur"),
    ("gaussian_blur_v1", "gaussian_blur", None),
    ("gaussian_blur_v2", None, "gaussian_blur"),
    ("cutout", "cutout_v1", "cutout_study"),
    ("coarse_dropout", None, "coarse_dropout_default"),
    ("elastic", "elastic_v1", "elastic_v1_reimpl"),
    ("elastic_v1_field", "elastic_v1", "elastic_v1_reimpl"),
    ("elastic_grid", None, "elastic_v2"),
    ("sharpen", "sharpen", "sharpen"),
    ("normalize", "normalize", "normalize"),
    ("horizontal_flip", None, None),
    ("solarize", None, None),
    ("gaussian_noise", None, None),
    ("study_barlow", "pipeline_study_1.3.1", "pipeline_v2_equiv"),
    ("study_supervised", "pipeline_study_sharpen_1.3.1", "pipeline_v1_sem_sharpen"),
    ("study_eval", None, None),
    ("byol", None, None),
]


def rust(path):
    out = {}
    for line in open(path):
        m = re.match(r"test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter", line)
        if m:
            out[m.group(1)] = float(m.group(2).replace(",", ""))
    return out


def anchors(path):
    d = json.load(open(path))
    return {(r["input"], r["name"]): r["median_ips"] for r in d["results"]}, d


def main():
    rs = rust(sys.argv[1])
    a1, m1 = anchors(sys.argv[2])
    a2, m2 = anchors(sys.argv[3])
    print("| transform | size | Rust img/s | alb 1.3.1 img/s | × 1.3.1 | alb 2.0.8 img/s | × 2.0.8 | target |")
    print("|---|---|---|---|---|---|---|---|")
    for size, inp in ((128, "128x128x1"), (512, "512x512x1")):
        need = 1.5 if size == 128 else 1.0
        for name, n1, n2 in PAIRS:
            key = f"augment_{size}/{name}"
            if key not in rs:
                continue
            ips = 1e9 / rs[key]
            cells, ok = [], []
            for table, n in ((a1, n1), (a2, n2)):
                v = table.get((inp, n)) if n else None
                if v:
                    cells += [f"{v:,.0f}", f"{ips / v:.1f}"]
                    ok.append(ips / v)
                else:
                    cells += ["–", "–"]
            if name == "study_barlow" and size == 128:
                tgt = "≥20× / ≥10×"
                verdict = ok and ok[0] >= 20 and ok[1] >= 10
            elif ok and not name.startswith("study_"):
                tgt = f"≥{need:g}×"
                verdict = min(ok) >= need
            else:
                tgt, verdict = "", None
            mark = "" if verdict is None else (" ✓" if verdict else " ✗")
            print(f"| {name} | {size}² | {ips:,.0f} | " + " | ".join(cells) + f" | {tgt}{mark} |")
    print()
    print("| batch (256 samples × 2 views, 128² u8) | all cores img/s | 1 thread img/s | scaling |")
    print("|---|---|---|---|")
    for p in ("study_barlow", "study_supervised", "byol"):
        a, b = rs.get(f"augment_batch/{p}"), rs.get(f"augment_batch/{p}_1thread")
        if a and b:
            print(f"| {p} | {512e9 / a:,.0f} | {512e9 / b:,.0f} | {b / a:.2f}× |")
    print()
    print(f"anchor runs: 1.3.1 {m1['time_start']}..{m1['time_end']} load {m1['loadavg_start']}..{m1['loadavg_end']}; "
          f"2.0.8 {m2['time_start']}..{m2['time_end']} load {m2['loadavg_start']}..{m2['loadavg_end']}")


if __name__ == "__main__":
    main()
