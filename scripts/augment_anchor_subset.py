#!/usr/bin/env python3
"""The albumentations anchors for docs/benchmarks.md, restricted to what the comparison needs:
one OpenCV thread, 128x128x1 and 512x512x1 inputs, every single transform and the pipelines.
It imports the timing code and transform catalogues of ../shared/tools/anchor_augment.py
(2.0.8) or anchor_augment_v1.py (1.3.1), so the figures are the same measurement as theirs.

    /work/venvs/alb208/bin/python scripts/augment_anchor_subset.py v2 OUT.json
    /work/venvs/alb131/bin/python scripts/augment_anchor_subset.py v1 OUT.json
"""
import json
import os
import sys
import time

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools")
sys.path.insert(0, os.path.abspath(TOOLS))


def main() -> int:
    which, out = sys.argv[1], sys.argv[2]
    repeats, min_s = 5, 0.2
    import cv2
    cv2.setNumThreads(1)
    import anchor_augment as a2
    if which == "v2":
        def table(h, w):
            t = {k: fn for k, (fn, _) in a2.single_transforms(h, w).items()}
            t.update({k: fn for k, (fn, _) in a2.pipelines().items()})
            return t
    else:
        import anchor_augment_v1 as a1

        def table(h, w):
            t = {k: (lambda x, tr=tr: tr(image=x)["image"]) for k, tr in a1.singles(h, w).items()}
            t["pipeline_study_1.3.1"] = lambda x, tr=a1.study_v1(): tr(image=x)["image"]
            t["pipeline_study_sharpen_1.3.1"] = lambda x, tr=a1.study_v1(sharpen=True): tr(image=x)["image"]
            return t
    inputs = a2.make_inputs()
    res = {"loadavg_start": a2.loadavg(), "time_start": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "opencv": cv2.__version__, "results": []}
    for iname in ("128x128x1", "512x512x1"):
        img = inputs[iname]
        for name, fn in table(*img.shape[:2]).items():
            r = a2.time_fn(fn, img, repeats, min_s)
            r.update({"name": name, "input": iname})
            res["results"].append(r)
            print(f"{iname} {name:32s} {r['median_ips']:10.0f} img/s load {r['loadavg_after'][0]}", flush=True)
    res["loadavg_end"] = a2.loadavg()
    res["time_end"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
