#!/usr/bin/env python3
"""PyTorch anchor of benches/barlow_step.rs: one Barlow Twins training step as the study ran it.

The model, loss and LARS follow facebookresearch/barlowtwins main.py (which the study forked):
ResNet-18 (zero_init_residual=True, fc = Identity) -> projector Linear(no bias) -> BatchNorm1d ->
ReLU, twice, -> Linear(no bias); C = bn(z1).T @ bn(z2) / N with a BatchNorm1d(affine=False);
loss = on_diag + lambd * off_diag; clip_grad_norm_(1.0) (the study); LARS with the study's
hyper-parameters (lr 0.002 * 8 weights, 0.000048 * 8 biases/BN, wd 1e-6, eta 0.001,
momentum 0.9, 1-D parameters excluded from decay and adaptation).

Prints one JSON line: median step time (after one warm-up step), images/s (N per step), and the
peak resident memory (ru_maxrss) of this process; on a GPU (--device cuda) also the peak of
torch.cuda.max_memory_allocated / max_memory_reserved, with every step ending in a synchronize.

--precision: fp32 (TF32 matmuls and convolutions off), tf32 (TF32 allowed, as torch's cuDNN
convolutions do by default), bf16 (torch.autocast(bfloat16) around the forward pass and the
loss: mixed precision, weights and optimiser in fp32). On the CPU only fp32 and bf16 apply.

Install: python3 -m venv /work/venvs/torch && /work/venvs/torch/bin/pip install torch torchvision
Run:     /work/venvs/torch/bin/python scripts/bench_barlow_torch.py --phase full --threads 2
GPU:     python3 scripts/bench_barlow_torch.py --device cuda --batch 256 --precision tf32
"""

import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torchvision
from torch import nn


class LARS(torch.optim.Optimizer):
    """facebookresearch/barlowtwins main.py LARS (filters exclude every 1-D parameter)."""

    def __init__(self, params, lr, weight_decay=0, momentum=0.9, eta=0.001):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                dp = p.grad
                if dp is None:
                    continue
                if p.ndim != 1:
                    dp = dp.add(p, alpha=g["weight_decay"])
                    param_norm = torch.norm(p)
                    update_norm = torch.norm(dp)
                    one = torch.ones_like(param_norm)
                    q = torch.where(
                        param_norm > 0.0,
                        torch.where(update_norm > 0, (g["eta"] * param_norm / update_norm), one),
                        one,
                    )
                    dp = dp.mul(q)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"]
                mu.mul_(g["momentum"]).add_(dp)
                p.add_(mu, alpha=-g["lr"])


def projector(widths):
    layers = []
    for i in range(len(widths) - 2):
        layers += [
            nn.Linear(widths[i], widths[i + 1], bias=False),
            nn.BatchNorm1d(widths[i + 1]),
            nn.ReLU(inplace=True),
        ]
    layers.append(nn.Linear(widths[-2], widths[-1], bias=False))
    return nn.Sequential(*layers)


def off_diagonal(x):
    n, m = x.shape
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class BarlowTwins(nn.Module):
    def __init__(self, widths, with_backbone, lambd=0.0051):
        super().__init__()
        if with_backbone:
            self.backbone = torchvision.models.resnet18(zero_init_residual=True)
            self.backbone.fc = nn.Identity()
        else:
            self.backbone = nn.Identity()
        self.projector = projector(widths)
        self.bn = nn.BatchNorm1d(widths[-1], affine=False)
        self.lambd = lambd

    def forward(self, y1, y2):
        z1 = self.projector(self.backbone(y1))
        z2 = self.projector(self.backbone(y2))
        c = self.bn(z1).T @ self.bn(z2)
        c.div_(y1.shape[0])
        on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
        off_diag = off_diagonal(c).pow_(2).sum()
        return on_diag + self.lambd * off_diag


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=["full", "projector"], default="full")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--projector", default="512-8192-8192-8192")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if a.precision == "tf32" and not cuda:
        ap.error("--precision tf32 needs a CUDA device")
    tf32 = a.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    widths = [int(w) for w in a.projector.split("-")]
    full = a.phase == "full"
    model = BarlowTwins(widths, with_backbone=full).to(device)
    model.train()
    weights = [p for p in model.parameters() if p.ndim != 1]
    biases = [p for p in model.parameters() if p.ndim == 1]
    opt = LARS(
        [{"params": weights, "lr": 0.002 * 8}, {"params": biases, "lr": 0.000048 * 8}],
        lr=0.0,
        weight_decay=1e-6,
        momentum=0.9,
        eta=0.001,
    )
    shape = (a.batch, 3, a.size, a.size) if full else (a.batch, widths[0])
    times = []
    for i in range(a.steps + 1):
        # Images ~ N(0, 1); pooled ResNet features are non-negative, so features ~ U(0, 1).
        draw = torch.randn if full else torch.rand
        y1, y2 = draw(shape, device=device), draw(shape, device=device)
        if cuda:
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        opt.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = model(y1, y2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = loss.item()
        if cuda:
            torch.cuda.synchronize(device)
        dt = time.perf_counter() - t
        print(
            f"  torch {a.device} {a.precision} {a.threads} thr {a.phase} step {i}: {dt:.2f} s, loss {value:.1f}",
            file=sys.stderr,
        )
        if i > 0:
            times.append(dt)
    t = statistics.median(times)
    line = {
        "impl": f"pytorch-{torch.__version__}",
        "device": a.device,
        "precision": a.precision,
        "phase": a.phase,
        "threads": a.threads,
        "batch": a.batch,
        "size": a.size,
        "step_s": round(t, 4),
        "images_per_s": round(a.batch / t, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if cuda:
        line["device_name"] = torch.cuda.get_device_name(device)
        line["max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
        line["max_reserved_mib"] = round(torch.cuda.max_memory_reserved(device) / 2**20)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
