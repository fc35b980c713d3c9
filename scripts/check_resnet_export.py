"""Checks that an encoder exported by twinscan-models loads into torchvision.

Usage: python scripts/check_resnet_export.py EXPORTED.safetensors FIXTURE_DIR
FIXTURE_DIR holds meta.json, input.npy and features_eval.npy (../shared/fixtures/torchvision-resnet).
Builds the torchvision ResNet that meta.json describes, runs `load_state_dict(strict=False)`
(only fc.* may be missing), then `strict=True` after adding fc back, and compares eval-mode
pooled features with the fixture. Exit code 1 on any mismatch.
Install: pip install torch torchvision safetensors numpy
"""
import json
import sys

import numpy as np
import torch
import torchvision
from safetensors.torch import load_file


def main() -> int:
    exported, fixture = sys.argv[1], sys.argv[2]
    meta = json.load(open(f"{fixture}/meta.json"))
    block = {"basic": torchvision.models.resnet.BasicBlock,
             "bottleneck": torchvision.models.resnet.Bottleneck}[meta["block"]]
    model = torchvision.models.ResNet(block, meta["layers"], num_classes=meta["num_classes"])
    if meta["in_channels"] != 3:
        model.conv1 = torch.nn.Conv2d(meta["in_channels"], 64, 7, 2, 3, bias=False)
    sd = load_file(exported)
    res = model.load_state_dict(sd, strict=False)
    print("missing:", res.missing_keys, "unexpected:", res.unexpected_keys)
    ok = sorted(res.missing_keys) == ["fc.bias", "fc.weight"] and not res.unexpected_keys
    sd.update({k: v for k, v in model.state_dict().items() if k.startswith("fc.")})
    model.load_state_dict(sd, strict=True)  # raises on any other mismatch
    model.eval()
    model.fc = torch.nn.Identity()
    x = torch.from_numpy(np.load(f"{fixture}/input.npy"))
    with torch.inference_mode():
        feats = model(x).numpy()
    want = np.load(f"{fixture}/features_eval.npy")
    err = float(np.max(np.abs(feats - want) / np.maximum(np.abs(want), 1e-2)))
    print(f"max relative deviation of eval features vs fixture: {err:.3e}")
    ok = ok and err < 1e-4
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
