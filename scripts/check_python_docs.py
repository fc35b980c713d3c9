#!/usr/bin/env python3
"""Runs the Python snippets of docs/python.md, as written, against a quickstart folder and an
embed folder, in one namespace and in order; prints what they print. Blocks starting with
`# needs torch` are skipped (and said so) when torch/torchvision are not importable.

    cargo run --release --example quickstart
    cargo run --release --example embed -- --encoder runs/quickstart/pretrain/*/encoder.safetensors \
        --data runs/quickstart/prepared --out runs/embed
    python3 -m venv .venv-doc && .venv-doc/bin/pip install numpy pandas safetensors torch torchvision
    .venv-doc/bin/python scripts/check_python_docs.py --run runs/quickstart --embed runs/embed

A failing assertion in a snippet fails this script (non-zero exit).
"""
import argparse
import os
import re
import sys

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "python.md")


def blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default="runs/quickstart", help="quickstart output folder")
    ap.add_argument("--embed", default="runs/embed", help="embed output folder")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    code = blocks(open(DOC).read())
    if not code:
        print(f"error: no python blocks in {DOC}", file=sys.stderr)
        return 1
    ns = {"__name__": "docs_python"}
    skipped = 0
    for i, block in enumerate(code):
        if i == 0:
            # The paths block: point it at the folders given here.
            block = block.replace('RUN = "runs/quickstart"', f"RUN = {args.run!r}")
            block = block.replace('EMBED = "runs/embed"', f"EMBED = {args.embed!r}")
        if block.startswith("# needs torch") and not have_torch:
            print(f"[block {i}: skipped, torch/torchvision not installed]")
            skipped += 1
            continue
        exec(compile(block, f"docs/python.md block {i}", "exec"), ns)
    print(f"{len(code) - skipped} of {len(code)} blocks ran" + ("" if have_torch else " (no torch)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
