"""PyTorch anchor for benches/resnet.rs: ResNet-18 forward and training-step throughput.

torchvision resnet18(num_classes=14), batch 32, 3x128x128 by default; training step =
forward + BCEWithLogitsLoss + backward + SGD(momentum 0.9) step + loss.item(); inference =
eval() + inference_mode() forward + sum().item(). Median of --iters after --warmup, for each
--threads value (torch.set_num_threads). "cores" = process CPU time / wall time.

Install (venv outside the repo): python3 -m venv /work/venvs/torch &&
/work/venvs/torch/bin/pip install torch torchvision
Usage: python scripts/bench_resnet_torch.py --threads 1 2 [--json]
"""
import argparse
import json
import statistics
import time

import torch
import torchvision


def measure(batch, warmup, iters, step):
    for _ in range(warmup):
        step()
    secs = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(iters):
        t = time.perf_counter()
        step()
        secs.append(time.perf_counter() - t)
    cores = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return batch / statistics.median(secs), cores


def run(threads, batch, size, warmup, iters):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=14)
    x = torch.randn(batch, 3, size, size)
    y = (torch.rand(batch, 14) < 0.3).float()

    model.eval()

    def infer():
        with torch.inference_mode():
            model(x).sum().item()

    infer_img_s, infer_cores = measure(batch, warmup, iters, infer)

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    train_img_s, train_cores = measure(batch, warmup, iters, train)
    return {
        "threads": threads,
        "infer_img_s": infer_img_s,
        "infer_cores": infer_cores,
        "train_img_s": train_img_s,
        "train_cores": train_cores,
        "torch": torch.__version__,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    a = p.parse_args()
    for t in a.threads:
        r = run(t, a.batch, a.size, a.warmup, a.iters)
        if a.json:
            print(json.dumps(r), flush=True)
        else:
            print(f"torch {r['torch']} threads={t}: forward {r['infer_img_s']:.1f} img/s "
                  f"(cores {r['infer_cores']:.2f}), train {r['train_img_s']:.1f} img/s "
                  f"(cores {r['train_cores']:.2f})", flush=True)


if __name__ == "__main__":
    main()
