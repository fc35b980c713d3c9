#!/usr/bin/env python3
"""PyTorch side of the BatchNorm reproduction in docs/benchmarks.md (tch section): BatchNorm in
training mode + residual add + ReLU, forward and backward, at ResNet-18's layer1 activation shape
[32, 64, 32, 32], the same work as `TWINSCAN_BENCH_OPS=1 cargo bench --bench resnet`'s
"BN(train)+add+ReLU fwd+bwd" row. Median ms of 20 calls after 3 warm-ups, 1 and 2 threads.

    /work/venvs/torch29/bin/python scripts/bench_bn_torch.py
"""
import statistics
import time

import torch
import torch.nn.functional as F


def run(threads: int) -> float:
    torch.set_num_threads(threads)
    x0 = torch.rand(32, 64, 32, 32)
    r = torch.rand(32, 64, 32, 32)
    gamma = torch.ones(64)
    beta = torch.zeros(64)
    times = []
    for i in range(23):
        x = x0.clone().requires_grad_(True)
        t = time.perf_counter()
        out = F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
        y = F.relu(out + r)
        y.sum().backward()
        float(x.grad.sum())
        if i >= 3:
            times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


if __name__ == "__main__":
    print(f"torch {torch.__version__}")
    for t in (1, 2):
        print(f"BN(train)+add+ReLU fwd+bwd [32, 64, 32, 32], {t} thread(s): {run(t):.1f} ms")
