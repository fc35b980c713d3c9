#!/usr/bin/env python3
"""Golden parity fixtures for twinscan-augment (crates/augment/tests/parity.rs).

Run once per albumentations version (venvs outside the repo):

    python3 -m venv /work/venvs/alb131 && /work/venvs/alb131/bin/pip install \
        "albumentations==1.3.1" "numpy<2" "opencv-python-headless<4.11"     # OpenCV 4.10
    python3 -m venv /work/venvs/alb208 && /work/venvs/alb208/bin/pip install albumentations==2.0.8
                                                                            # OpenCV 5.0
    /work/venvs/alb131/bin/python scripts/augment_fixtures.py crates/augment/tests/data
    /work/venvs/alb208/bin/python scripts/augment_fixtures.py crates/augment/tests/data

Writes <out>/v1/ (1.3.1) or <out>/v2/ (2.0.8): input_*.npy (float32, C order), one output
.npy per case, and cases.json mapping each case to its input, transform and the FIXED random
parameters the library was called with (RNG streams are not reproduced across languages;
the distributions are tested separately). Inputs are deterministic CT-like images.
"""
from __future__ import annotations

import json
import os
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import cv2  # noqa: E402
import albumentations as A  # noqa: E402

V1 = A.__version__.startswith("1.")


def ct_like(size: int, seed: int) -> np.ndarray:
    """Dark background, elliptical body with smooth texture, a few bright spots, slight noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    body = (((xx - 0.5) / 0.42) ** 2 + ((yy - 0.52) / 0.36) ** 2) < 1.0
    tex = rng.uniform(0, 1, (size // 4 + 1, size // 4 + 1))
    tex = cv2.resize(tex, (size, size), interpolation=cv2.INTER_CUBIC)
    img = np.where(body, 0.25 + 0.3 * tex, 0.02)
    for _ in range(4):
        cy, cx = rng.uniform(0.3, 0.7, size=2) * size
        r = rng.uniform(0.04, 0.1) * size
        img[((yy * size - cy) ** 2 + (xx * size - cx) ** 2) < r * r] = rng.uniform(0.7, 1.0)
    img += 0.02 * rng.standard_normal((size, size))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


class Writer:
    def __init__(self, out: str):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.cases: dict[str, dict] = {}

    def input(self, name: str, arr: np.ndarray) -> str:
        np.save(os.path.join(self.out, f"{name}.npy"), np.ascontiguousarray(arr, dtype=np.float32))
        return name

    def case(self, name: str, inp: str, transform: str, out: np.ndarray, **params):
        assert out.dtype == np.float32, (name, out.dtype)
        np.save(os.path.join(self.out, f"{name}.npy"), np.ascontiguousarray(out))
        self.cases[name] = {"input": inp, "transform": transform, "params": params,
                            "shape": list(out.shape)}

    def finish(self, meta: dict):
        with open(os.path.join(self.out, "cases.json"), "w") as f:
            json.dump({"meta": meta, "cases": self.cases}, f, indent=1, sort_keys=True)


def v1_holes(h, w, centres, size=8):
    """1.x Cutout.get_params given the drawn centres (y, x)."""
    holes = []
    for y, x in centres:
        y1 = int(np.clip(y - size // 2, 0, h))
        y2 = int(np.clip(y1 + size, 0, h))
        x1 = int(np.clip(x - size // 2, 0, w))
        x2 = int(np.clip(x1 + size, 0, w))
        holes.append((x1, y1, x2, y2))
    return holes


def v1_field(rs, h, w, alpha=1.0, sigma=50.0):
    """The 1.x field draws that follow the affine draws in ElasticTransform: the smoothed
    U(-1, 1) noise (scipy, float64), as float32 maps see it. At 32-64 px it can exceed 1/64 px,
    so it is replayed (at 128 px it stays below and rounds away under OpenCV 4.x)."""
    from scipy.ndimage import gaussian_filter
    dx = np.float32(gaussian_filter(rs.rand(h, w) * 2 - 1, sigma) * alpha)
    dy = np.float32(gaussian_filter(rs.rand(h, w) * 2 - 1, sigma) * alpha)
    return dx, dy


def study_zoom(img, s, size):
    c = A.Compose([A.RandomScale(scale_limit=(s - 1.0, s - 1.0), p=1.0),
                   A.PadIfNeeded(size, size), A.CenterCrop(size, size)])
    return c(image=img)["image"]


def control_points(h, w):
    c = np.array((h, w), np.float32) // 2
    s = min(h, w) // 3
    return np.array([c + s, [c[0] + s, c[1] - s], c - s], np.float32)


def common(wr: Writer, i32: str, i64: str, img32, img64):
    # Resize: 4:1 down, non-integer down, up to a non-square size
    wr.case("resize_64_to_32", i64, "resize", A.Resize(32, 32).apply(img64), height=32, width=32)
    wr.case("resize_64_to_23", i64, "resize", A.Resize(23, 23).apply(img64), height=23, width=23)
    wr.case("resize_32_to_77x50", i32, "resize", A.Resize(77, 50).apply(img32), height=77, width=50)
    # Brightness/contrast: gain and offset, with clipping on both sides
    for name, a, b in (("bc_a1.25_b-0.1", 1.25, -0.1), ("bc_a0.7_b0.3", 0.7, 0.3), ("bc_a1.3_b0.25", 1.3, 0.25)):
        wr.case(name, i32, "brightness_contrast",
                A.RandomBrightnessContrast(p=1).apply(img32, alpha=a, beta=b), alpha=a, beta=b)
    # Box blur
    for k in (3, 5, 7):
        kw = {"ksize": k} if V1 else {"kernel": k}
        wr.case(f"blur_k{k}", i32, "blur", A.Blur(p=1).apply(img32, **kw), k=k)
    # Normalize, flip, solarize
    wr.case("normalize_study", i32, "normalize",
            A.Normalize(mean=0.28, std=0.031, max_pixel_value=1.0, p=1).apply(img32),
            mean=0.28, std=0.031, max_pixel_value=1.0)
    wr.case("hflip", i32, "horizontal_flip", A.HorizontalFlip(p=1).apply(img32))
    wr.case("solarize_0.5", i32, "solarize", A.Solarize(p=1).apply(img32, threshold=0.5), threshold=0.5)
    # ColorJitter on grey: brightness and contrast in a given order (saturation/hue no-ops)
    for name, order in (("cj_order_1032", [1, 0, 3, 2]), ("cj_order_0123", [0, 1, 2, 3])):
        out = A.ColorJitter(p=1).apply(img32, brightness=1.35, contrast=0.7, saturation=1.1, hue=0.05,
                                       order=order)
        wr.case(name, i32, "color_jitter", out.astype(np.float32), brightness=1.35, contrast=0.7,
                saturation=1.1, hue=0.05, order=order)


def main_v1(wr: Writer):
    img32, img64 = ct_like(32, 1), ct_like(64, 2)
    i32, i64 = wr.input("input_32", img32), wr.input("input_64", img64)
    common(wr, i32, i64, img32, img64)
    # Study zoom (RandomScale + PadIfNeeded(REFLECT_101) + CenterCrop), including a zoom-out
    for s in (1.75, 2.1234, 2.5, 0.6):
        wr.case(f"zoom_s{s}", i32, "study_zoom", study_zoom(img32, s, 32), scale=s, height=32, width=32)
    wr.case("zoom_64_to_32_s1.9", i64, "study_zoom", study_zoom(img64, 1.9, 32), scale=1.9, height=32, width=32)
    # 1.x GaussianBlur: sigma 0 -> OpenCV's fixed tables; and one explicit sigma
    for k, s in ((3, 0.0), (5, 0.0), (7, 0.0), (5, 1.3)):
        wr.case(f"gauss_v1_k{k}_s{s}", i32, "gaussian_blur", A.GaussianBlur(p=1).apply(img32, ksize=k, sigma=s),
                k=k, sigma=s)
    # 1.x Cutout: centres (inclusive of H, W) -> clipped holes
    centres = [(0, 0), (32, 32), (3, 29), (16, 16), (31, 5), (10, 12), (20, 0), (28, 30)]
    holes = v1_holes(32, 32, centres)
    wr.case("cutout_v1", i32, "cutout", A.Cutout(p=1).apply(img32, fill_value=0, holes=holes),
            holes=[(y1, y2, x1, x2) for (x1, y1, x2, y2) in holes])
    # 1.x Sharpen (unclipped)
    gen = A.Sharpen._Sharpen__generate_sharpening_matrix
    for a, l in ((0.35, 0.8), (0.5, 0.5)):
        out = A.Sharpen(p=1).apply(img32, sharpening_matrix=gen(a, l))
        wr.case(f"sharpen_v1_a{a}_l{l}", i32, "sharpen", out.astype(np.float32), alpha=a, lightness=l, clip=False)
    # 1.x ElasticTransform(alpha_affine=10, CONSTANT): the library itself, random draws replayed
    from albumentations.augmentations.geometric import functional as FG
    for seed in (1, 2, 3):
        for name, img, inp in (("32", img32, i32), ("64", img64, i64)):
            h, w = img.shape
            ref = FG.elastic_transform(img, 1.0, 50.0, 10.0, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT, None,
                                       np.random.RandomState(seed))
            rs = np.random.RandomState(seed)
            src = control_points(h, w)
            off = rs.uniform(-10.0, 10.0, size=src.shape).astype(np.float32)
            fx, fy = v1_field(rs, h, w)
            wr.input(f"elastic_v1_{name}_seed{seed}_dx", fx)
            wr.input(f"elastic_v1_{name}_seed{seed}_dy", fy)
            wr.case(f"elastic_v1_{name}_seed{seed}", inp, "elastic", ref.astype(np.float32),
                    affine_offsets=off.tolist(), quantize_1_32=True,
                    dx=f"elastic_v1_{name}_seed{seed}_dx", dy=f"elastic_v1_{name}_seed{seed}_dy")
    # OpenCV 4.x warpAffine alone (1/32-px fixed point), a stronger matrix
    m = cv2.getRotationMatrix2D((31.5, 30.0), 17.0, 1.23)
    m[0, 2] += 2.3
    wr.case("warp_affine_cv4", i64, "warp_affine",
            cv2.warpAffine(img64, m, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0), matrix=m.tolist(), quantize_1_32=True)
    # the 1.x field smoothing (scipy gaussian_filter, REFLECT, truncate 4) on given noise
    from scipy.ndimage import gaussian_filter
    noise = np.random.RandomState(5).rand(32, 32) * 2 - 1
    ni = wr.input("noise_32", noise)
    for s in (4.0, 50.0):
        wr.case(f"field_smooth_s{s}", ni, "field_smooth",
                gaussian_filter(noise.astype(np.float32).astype(np.float64), s).astype(np.float32), sigma=s)
    # RandomResizedCrop 1.x at a fixed window
    for (ch, cw, hs, ws) in ((20, 13, 0.3, 0.9), (32, 32, 0.0, 0.0), (5, 7, 0.99, 0.01)):
        y0 = int((32 - ch + 1) * hs)
        x0 = int((32 - cw + 1) * ws)
        out = A.RandomResizedCrop(32, 32, p=1).apply(img32, crop_height=ch, crop_width=cw, h_start=hs, w_start=ws)
        wr.case(f"rrc_{ch}x{cw}", i32, "random_resized_crop", out, y0=y0, x0=x0, ch=ch, cw=cw, height=32, width=32)
    # The study pipeline, every step firing, at fixed parameters (64 -> 32)
    x = A.Resize(32, 32).apply(img64)
    x = study_zoom(x, 2.2, 32)
    x = A.RandomBrightnessContrast(p=1).apply(x, alpha=1.2, beta=0.05)
    x = A.Blur(p=1).apply(x, ksize=5)
    holes = v1_holes(32, 32, [(5, 5), (30, 12), (16, 31), (0, 20), (22, 22), (9, 0), (32, 16), (14, 8)])
    x = A.Cutout(p=1).apply(x, fill_value=0, holes=holes)
    x = FG.elastic_transform(x, 1.0, 50.0, 10.0, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT, None,
                             np.random.RandomState(11))
    rs = np.random.RandomState(11)
    off = rs.uniform(-10.0, 10.0, size=(3, 2)).astype(np.float32)
    fx, fy = v1_field(rs, 32, 32)
    wr.input("study_pipeline_dx", fx)
    wr.input("study_pipeline_dy", fy)
    x = A.Sharpen(p=1).apply(x, sharpening_matrix=gen(0.3, 0.7))
    x = A.Normalize(mean=0.28, std=0.031, max_pixel_value=1.0, p=1).apply(x)
    wr.case("study_pipeline_all_p1", i64, "study_pipeline", x.astype(np.float32), zoom=2.2, alpha=1.2, beta=0.05,
            k=5, holes=[(y1, y2, x1, x2) for (x1, y1, x2, y2) in holes], affine_offsets=off.tolist(),
            dx="study_pipeline_dx", dy="study_pipeline_dy", sharpen_alpha=0.3, sharpen_lightness=0.7)


def main_v2(wr: Writer):
    img32, img64 = ct_like(32, 1), ct_like(64, 2)
    i32, i64 = wr.input("input_32", img32), wr.input("input_64", img64)
    common(wr, i32, i64, img32, img64)
    # OpenCV 5 warpAffine: exact float bilinear; the elastic affine at fixed offsets
    for seed in (1, 2):
        src = control_points(64, 64)
        off = np.random.RandomState(seed).uniform(-10.0, 10.0, size=(3, 2)).astype(np.float32)
        m = cv2.getAffineTransform(src, src + off)
        wr.case(f"elastic_affine_exact_64_seed{seed}", i64, "elastic",
                cv2.warpAffine(img64, m, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0), affine_offsets=off.tolist(), quantize_1_32=False)
    m = cv2.getRotationMatrix2D((31.5, 30.0), 17.0, 1.23)
    m[0, 2] += 2.3
    wr.case("warp_affine_exact", i64, "warp_affine",
            cv2.warpAffine(img64, m, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0), matrix=m.tolist(), quantize_1_32=False)
    # remap with a smooth displacement field (the elastic field's last step), exact bilinear
    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    dx = (2.5 * np.sin(yy / 5.0 + rng.uniform()) + 0.3 * rng.standard_normal((32, 32))).astype(np.float32)
    dy = (2.0 * np.cos(xx / 4.0 + rng.uniform()) + 0.3 * rng.standard_normal((32, 32))).astype(np.float32)
    wr.input("remap_dx", dx)
    wr.input("remap_dy", dy)
    wr.case("remap_exact", i32, "remap",
            cv2.remap(img32, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0),
            dx="remap_dx", dy="remap_dy", quantize_1_32=False)
    # 2.x GaussianBlur: kernel from sigma (PIL size rule), sepFilter2D, clipped
    from albumentations.augmentations.blur import functional as fb
    for s in (0.5, 1.3, 3.0):
        kern = fb.create_gaussian_kernel_1d(s, 0)
        wr.case(f"gauss_v2_s{s}", i32, "gaussian_blur", A.GaussianBlur(p=1).apply(img32, kernel=kern),
                k=int(len(kern)), sigma=s)
    # 2.x Sharpen (clipped)
    for a, l in ((0.35, 0.8), (0.5, 1.0)):
        mat = A.Sharpen._generate_sharpening_matrix(a, l) if hasattr(A.Sharpen, "_generate_sharpening_matrix") \
            else None
        if mat is None:
            me = np.array([[-1, -1, -1], [-1, 8 + l, -1], [-1, -1, -1]], np.float32)
            mat = (1 - a) * np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float32) + a * me
        out = A.Sharpen(p=1).apply(img32, alpha=a, sharpening_matrix=mat)
        wr.case(f"sharpen_v2_a{a}_l{l}", i32, "sharpen", out.astype(np.float32), alpha=a, lightness=l, clip=True)
    # 2.x CoarseDropout with fixed holes (x1, y1, x2, y2), fully inside
    holes = np.array([[2, 3, 8, 9], [20, 1, 31, 6], [10, 25, 14, 32]])
    wr.case("coarse_dropout_v2", i32, "coarse_dropout",
            A.CoarseDropout(fill=0, p=1).apply(img32, holes=holes, seed=0),
            holes=[(int(y1), int(y2), int(x1), int(x2)) for x1, y1, x2, y2 in holes])
    # 2.x RandomResizedCrop at a fixed window
    for (x1, y1, x2, y2) in ((9, 4, 22, 24), (0, 0, 32, 32), (25, 1, 32, 6)):
        out = A.RandomResizedCrop(size=(32, 32), p=1).apply(img32, crop_coords=(x1, y1, x2, y2))
        wr.case(f"rrc_{y2 - y1}x{x2 - x1}", i32, "random_resized_crop", out, y0=y1, x0=x1, ch=y2 - y1,
                cw=x2 - x1, height=32, width=32)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    sub = "v1" if V1 else "v2"
    wr = Writer(os.path.join(sys.argv[1], sub))
    (main_v1 if V1 else main_v2)(wr)
    wr.finish({"albumentations": A.__version__, "opencv": cv2.__version__, "numpy": np.__version__})
    print(f"{len(wr.cases)} cases -> {wr.out} (albumentations {A.__version__}, OpenCV {cv2.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
