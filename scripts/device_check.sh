#!/usr/bin/env bash
# The GPU check of issue 14 §2: one call measures twinscan on a lent GPU machine.
#
#   scripts/device_check.sh build     # here (Rust toolchain): binaries -> device-bin/
#   scripts/device_check.sh run       # on the GPU machine (no Rust): everything, into $OUT
#   scripts/device_check.sh dry-run   # here: build, then run on wgpu (lavapipe) at small sizes
#
# `build` compiles, with `--features $FEATURES` (default `wgpu`: the feature set of CI's wgpu
# tests, so a warm CI cache is reused), the test binaries torchvision_parity, device_step and
# device_runs, the bench barlow_step and the examples pretrain, synth and prepare; stages
# them stripped and xz-compressed in the ignored folder device-bin/, in two parts that each
# fit the device tool's 64 MiB carry limit (a binary with burn's wgpu backend is ~95 MiB
# stripped, ~17 MiB compressed):
#   device-bin/a  numerics: torchvision_parity, device_step and the safetensors half of the
#                 torchvision fixture (the .pth half differs only in how the host reads it)
#   device-bin/b  measurements: barlow_step, pretrain, synth, prepare, device_runs
# Run `run` once per part (carry ["device-bin/a"], then carry ["device-bin/b"]); steps whose
# binaries are not there are reported as not carried.
#
# The `cuda` backend cannot be built without access to GitHub: cubecl-cuda 0.11.3 always
# depends on cubecl-llvm, whose build script downloads an LLVM 23.1 bundle from GitHub's
# release pages (`failed to lookup address information` on a machine that reaches only the
# package registries; docs/models.md). Where that download works, FEATURES=wgpu,cuda builds
# binaries whose `run` adds the cuda device; without it, `run` measures burn on wgpu (Vulkan)
# beside PyTorch on CUDA.
#
# `run` (on the GPU machine, from the repository root) runs, each step under a timeout and
# all under one time budget (BUDGET_S, default 540 s), in this order: the torchvision parity
# tests on every device in DEVICES (default `cuda,wgpu:0` when the binaries have cuda, else
# `wgpu:0`: the first discrete GPU through wgpu/Vulkan); the Barlow Twins step throughput at
# the study's size (ResNet-18, projector 512-8192-8192-8192, batch 256, 128²) on the first
# device (f32) and PyTorch on the same GPU (fp32, tf32, bf16 autocast), with peak GPU memory
# (nvidia-smi sampled every 100 ms, minus the idle level; PyTorch's own max_memory_allocated
# and burn's allocator reserve too); a 5-epoch pretraining of a synthetic cohort on the first
# device (the pretrain example); the training-step parity and the pretrain/classify runs on
# every device; the throughput on the other devices and in half precision. Every output goes
# to $OUT (default ./device-check-out): one log per step, summary.txt (status, seconds and
# peak GPU memory of each step) and summary.md (the throughput table).
#
# Knobs (environment): FEATURES (build), DEVICES, BUDGET_S, BENCH_BATCH (256), BENCH_SIZE
# (128), BENCH_PROJECTOR (512-8192-8192-8192), BENCH_STEPS (5), PRETRAIN_DEVICE (first of
# DEVICES),
# PRETRAIN_EPOCHS (5), PRETRAIN_BATCH (256), PRETRAIN_MAX_STEPS (none), SCANS (16), TORCH_DEVICE (cuda), TORCH_PRECISIONS
# (fp32,tf32,bf16), BURN_DTYPES (f32,bf16 with cuda, else f32,f16), PYTHON (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-run}
bin=$root/device-bin

die() { echo "device_check: $*" >&2; exit 1; }

build() {
    command -v cargo > /dev/null || die "build needs cargo (run it where the Rust toolchain is)"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/twinscan/target}"
    local features=${FEATURES:-wgpu}
    local pkgs=(--workspace --features "$features")
    local msgs
    msgs=$(mktemp)
    # The two invocations select the same packages and features (examples, like tests, pull
    # in dev-dependencies), so cargo resolves one feature set and builds burn once.
    cargo test --release "${pkgs[@]}" --no-run --message-format=json-render-diagnostics \
        --test torchvision_parity --test device_step --test device_runs --bench barlow_step \
        > "$msgs" || die "cargo test --no-run failed"
    cargo build --release "${pkgs[@]}" --message-format=json-render-diagnostics \
        --example pretrain --example synth --example prepare >> "$msgs" \
        || die "cargo build of the examples failed"
    rm -rf "$bin" && mkdir -p "$bin/a/fixture" "$bin/b"
    python3 - "$msgs" "$bin" <<'EOF' || die "staging failed"
import json, shutil, subprocess, sys
msgs, out = sys.argv[1], sys.argv[2]
part = {"torchvision_parity": "a", "device_step": "a", "barlow_step": "b", "pretrain": "b",
        "synth": "b", "prepare": "b", "device_runs": "b"}
wanted = set(part)
found = {}
for line in open(msgs):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in wanted:
        found[m["target"]["name"]] = m["executable"]
missing = wanted - found.keys()
if missing:
    sys.exit(f"no executable for {sorted(missing)}")
for name, exe in sorted(found.items()):
    dst = f"{out}/{part[name]}/{name}"
    shutil.copy(exe, dst)
    subprocess.run(["strip", dst], check=True)
EOF
    rm -f "$msgs"
    local fixture="${TWINSCAN_RESNET_FIXTURE:-$root/../shared/fixtures/torchvision-resnet}"
    [ -f "$fixture/meta.json" ] || die "no torchvision fixture at $fixture (TWINSCAN_RESNET_FIXTURE)"
    cp "$fixture"/{meta.json,input.npy,features_eval.npy,features_train.npy,logits_eval.npy,logits_train.npy,weights.safetensors} "$bin/a/fixture/"
    chmod u+w "$bin"/a/fixture/*
    # The Vulkan loader (libvulkan.so.1, ~110 KiB compressed): the lent GPU machine has the
    # NVIDIA Vulkan driver but no loader (session 6), and nothing can be installed there.
    local loader
    loader=$(ldconfig -p 2> /dev/null | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')
    [ -n "$loader" ] && cp -L "$loader" "$bin/b/libvulkan.so.1"
    for f in "$bin"/a/* "$bin"/b/*; do [ -f "$f" ] && xz -T0 -6 "$f"; done
    for p in a b; do
        (cd "$bin/$p" && { git -C "$root" rev-parse HEAD; date -u +%FT%TZ; echo "features $features"; ls -lR .; } > MANIFEST)
        echo "device_check: staged $(du -sh "$bin/$p" | cut -f1) in $bin/$p"
    done
}

# ---------------------------------------------------------------------------------------
# run: everything below needs no Rust toolchain.

start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }

# `step NAME SECONDS CMD...`: runs CMD with its output in $OUT/NAME.log, under a timeout of
# SECONDS or what is left of the budget, sampling GPU memory where nvidia-smi exists, and
# appends status, seconds and peak GPU memory to summary.txt.
step() {
    local name=$1 limit=$2
    shift 2
    local left=$(( BUDGET_S - $(elapsed) ))
    if [ "$left" -lt 20 ]; then
        echo "$name: SKIPPED (budget of ${BUDGET_S} s spent)" | tee -a "$OUT/summary.txt"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local sampler="" idle=""
    if command -v nvidia-smi > /dev/null; then
        idle=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 \
            > "$OUT/$name.gpu-mem" 2> /dev/null &
        sampler=$!
    fi
    local t0 rc
    t0=$(date +%s)
    echo "[$(elapsed) s] $name: $*" >&2
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    local mem=""
    if [ -n "$sampler" ]; then
        kill "$sampler" 2> /dev/null
        wait "$sampler" 2> /dev/null
        local peak
        peak=$(sort -n "$OUT/$name.gpu-mem" | tail -1)
        [ -n "$peak" ] && mem=", peak GPU memory $(( peak - idle )) MiB above idle ($idle MiB)"
    fi
    local status=ok
    [ "$rc" -ne 0 ] && status="FAILED (exit $rc$([ "$rc" -eq 124 ] && echo ", timed out after ${limit} s"))"
    echo "$name: $status in $(( $(date +%s) - t0 )) s$mem" | tee -a "$OUT/summary.txt"
}

unpack() {
    [ -d "$bin" ] || die "$bin missing: run '$0 build' where Rust is, and carry device-bin/a or device-bin/b"
    work=$(mktemp -d)
    for p in "$bin"/*/; do cp -r "$p". "$work"/; done
    for f in "$work"/*.xz "$work"/fixture/*.xz; do
        [ -f "$f" ] || continue
        if command -v xz > /dev/null; then
            xz -d "$f"
        else
            python3 -c 'import lzma,sys; open(sys.argv[1][:-3],"wb").write(lzma.open(sys.argv[1]).read())' "$f" && rm "$f"
        fi
    done
    for b in torchvision_parity device_step device_runs barlow_step pretrain synth prepare; do
        [ -f "$work/$b" ] && chmod +x "$work/$b"
    done
    [ -f "$work/MANIFEST" ] || die "no MANIFEST in $bin/*: stage with '$0 build'"
}

# `carried NAME`: whether the binary NAME came with this run (else noted in summary.txt).
carried() {
    [ -x "$work/$1" ] && return 0
    echo "$1: not carried (another part of device-bin)" | tee -a "$OUT/summary.txt"
    return 1
}

environment() {
    # wgpu on the lent NVIDIA machine (measured in session 6): it ships the driver's Vulkan
    # ICD but no Vulkan loader, so the loader staged by `build` is put first on the library
    # path; and the ICD's manifest names libGLX_nvidia.so.0, which without a display answers
    # "Could not get 'vkCreateInstance'" (VK_LOADER_DEBUG=error), so a manifest naming the same
    # driver's libEGL_nvidia.so.0 is used instead (wgpu then finds the H200).
    if ! ldconfig -p 2> /dev/null | grep 'libvulkan\.so\.1' > /dev/null && [ -f "$work/libvulkan.so.1" ]; then
        mkdir -p "$work/vulkan" && mv "$work/libvulkan.so.1" "$work/vulkan/"
        export LD_LIBRARY_PATH="$work/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    local icd
    icd=$(grep -ls 'libGLX_nvidia' /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2> /dev/null | head -1)
    if [ -n "$icd" ] && [ -z "${VK_ICD_FILENAMES:-}" ] && ldconfig -p 2> /dev/null | grep 'libEGL_nvidia\.so\.0' > /dev/null; then
        sed 's/libGLX_nvidia/libEGL_nvidia/' "$icd" > "$work/nvidia_egl_icd.json"
        export VK_ICD_FILENAMES="$work/nvidia_egl_icd.json"
    fi
    # The Vulkan loader wants XDG_RUNTIME_DIR (without it: an endless warning loop).
    if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
        export XDG_RUNTIME_DIR="$work/xdg"
        mkdir -p -m 700 "$XDG_RUNTIME_DIR"
    fi
    # burn's CUDA backend loads libcuda and libnvrtc at run time; without a system CUDA
    # toolkit, PyTorch's pip wheels carry an nvrtc.
    if ! ldconfig -p 2> /dev/null | grep 'libnvrtc\.so' > /dev/null; then
        local libs
        libs=$("$PYTHON" - <<'EOF' 2> /dev/null
import glob, os, site
dirs = set()
for sp in site.getsitepackages():
    for f in glob.glob(os.path.join(sp, "nvidia", "**", "libnvrtc.so*"), recursive=True):
        dirs.add(os.path.dirname(f))
print(":".join(sorted(dirs)))
EOF
)
        [ -n "$libs" ] && export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    {
        echo "date: $(date -u +%FT%TZ)"
        echo "host: $(uname -a)"
        echo "binaries: $(head -3 "$work/MANIFEST" | tr '\n' ' ')"
        echo "DEVICES=$DEVICES PRETRAIN_DEVICE=$PRETRAIN_DEVICE BENCH: batch $BENCH_BATCH, ${BENCH_SIZE}², projector $BENCH_PROJECTOR, $BENCH_STEPS steps"
        echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
        echo "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
        command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
        "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1
        nproc
    } > "$OUT/environment.txt" 2>&1
    cat "$OUT/environment.txt"
}

bench_burn() {
    local device=$1 dtype=$2
    carried barlow_step || return
    step "bench-burn-${device/:/}-$dtype" 240 env BARLOW_BENCH_DEVICE="$device" \
        BARLOW_BENCH_DTYPE="$dtype" BARLOW_BENCH_BATCH="$BENCH_BATCH" \
        BARLOW_BENCH_SIZE="$BENCH_SIZE" BARLOW_BENCH_PROJECTOR="$BENCH_PROJECTOR" \
        BARLOW_BENCH_STEPS="$BENCH_STEPS" BARLOW_BENCH_TORCH_THREADS= \
        "$work/barlow_step" --bench
}

bench_torch() {
    local precision=$1 phase=$2
    if ! "$PYTHON" -c 'import torch, torchvision' 2> /dev/null; then
        echo "bench-torch-$TORCH_DEVICE-$precision-$phase: skipped (no torch + torchvision for $PYTHON)" \
            | tee -a "$OUT/summary.txt"
        return
    fi
    step "bench-torch-$TORCH_DEVICE-$precision-$phase" 120 "$PYTHON" scripts/bench_barlow_torch.py \
        --device "$TORCH_DEVICE" --precision "$precision" --phase "$phase" \
        --batch "$BENCH_BATCH" --size "$BENCH_SIZE" --projector "$BENCH_PROJECTOR" \
        --steps "$BENCH_STEPS" --threads "$(nproc)"
}

pretraining() {
    local data=$work/cohort
    carried pretrain && carried synth && carried prepare || return
    step synth 120 "$work/synth" --out "$data/scans" --scans "$SCANS" --size 256 --seed 0
    step prepare 180 "$work/prepare" --input "$data/scans" --out "$data/prepared" \
        --size "$BENCH_SIZE" --no-png
    [ -f "$data/prepared/dataset.json" ] || return
    step "pretrain-${PRETRAIN_DEVICE/:/}" 300 "$work/pretrain" --data "$data/prepared" \
        --out "$OUT/pretrain-${PRETRAIN_DEVICE/:/}" --epochs "$PRETRAIN_EPOCHS" \
        --batch-size "$PRETRAIN_BATCH" --image-size "$BENCH_SIZE" \
        --projector "$BENCH_PROJECTOR" --warmup-epochs 1 --device "$PRETRAIN_DEVICE" --quiet \
        ${PRETRAIN_MAX_STEPS:+--max-steps-per-epoch "$PRETRAIN_MAX_STEPS"}
}

summarise() {
    "$PYTHON" - "$OUT" <<'EOF' > "$OUT/summary.md" 2> "$OUT/summary.err"
import glob, json, os, re, sys
out = sys.argv[1]
rows = []
for log in sorted(glob.glob(os.path.join(out, "bench-*.log"))):
    name = os.path.basename(log)[:-4]
    mem = None
    mem_file = os.path.join(out, name + ".gpu-mem")
    summary = open(os.path.join(out, "summary.txt")).read()
    m = re.search(re.escape(name) + r": .*peak GPU memory (-?\d+) MiB", summary)
    if m:
        mem = int(m.group(1))
    for line in open(log):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        rows.append((r, mem))
print("| implementation | device | precision | phase | batch | size | step (s) | img/s | device memory (MiB) | GPU memory by nvidia-smi (MiB, whole step) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r, mem in rows:
    dev_mem = r.get("device_reserved_mib") or r.get("max_allocated_mib")
    print(f"| {r['impl']} | {r.get('device_name') or r.get('device', '')} | {r.get('dtype') or r.get('precision')} | {r['phase']} | {r.get('batch', '')} | {r.get('size', '')} | {r['step_s']} | {r['images_per_s']} | {dev_mem if dev_mem is not None else ''} | {mem if mem is not None else ''} |")
EOF
    echo
    echo "== summary ($(elapsed) s)"
    cat "$OUT/summary.txt"
    echo
    cat "$OUT/summary.md"
    grep -h -E '^device |worst relative|relative L2|epoch losses|classification on|kNN probe' "$OUT"/parity.log "$OUT"/step.log "$OUT"/runs.log 2> /dev/null | sort | uniq -c | sort -rn | head -40
    grep -h 'epoch ' "$OUT"/pretrain-*.log 2> /dev/null | tail -8
}

run_all() {
    PYTHON=${PYTHON:-python3}
    OUT=${OUT:-$root/device-check-out}
    mkdir -p "$OUT"
    start=$(date +%s)
    : > "$OUT/summary.txt"
    unpack
    environment
    local fixture=$work/fixture
    # The parity tests whose numbers depend on the device (the .pth ones differ only in how
    # the host reads the file; with the whole fixture present, all of them run).
    local filter=safetensors_
    [ -f "$fixture/weights.pth" ] && filter=""
    carried torchvision_parity && step parity 180 env TWINSCAN_RESNET_FIXTURE="$fixture" TWINSCAN_PARITY_DEVICES="$DEVICES" \
        "$work/torchvision_parity" $filter --test-threads=1 --nocapture
    local first_gpu=${PRETRAIN_DEVICE}
    bench_burn "$first_gpu" f32
    IFS=, read -r -a precisions <<< "$TORCH_PRECISIONS"
    # PyTorch beside burn's throughput, in the same call (part b).
    if [ -x "$work/barlow_step" ]; then
        for p in "${precisions[@]}"; do bench_torch "$p" full; done
        bench_torch "${precisions[0]}" projector
    fi
    pretraining
    carried device_step && step step 180 env TWINSCAN_PARITY_DEVICES="$DEVICES" "$work/device_step" --nocapture
    IFS=, read -r -a devices <<< "$DEVICES"
    for d in "${devices[@]}"; do
        [ "$d" = "$first_gpu" ] || bench_burn "$d" f32
    done
    IFS=, read -r -a dtypes <<< "$BURN_DTYPES"
    for t in "${dtypes[@]}"; do
        [ "$t" = f32 ] || bench_burn "$first_gpu" "$t"
    done
    carried device_runs && step runs 300 env TWINSCAN_PARITY_DEVICES="$DEVICES" "$work/device_runs" --test-threads=1 --nocapture
    summarise
    rm -rf "$work"
}

case "$mode" in
    build)
        build
        ;;
    run)
        if cat "$bin"/*/MANIFEST 2> /dev/null | grep -q '^features .*cuda'; then
            : "${DEVICES:=cuda,wgpu:0}" "${BURN_DTYPES:=f32,bf16}"
        else
            : "${DEVICES:=wgpu:0}" "${BURN_DTYPES:=f32,f16}"
        fi
        : "${BUDGET_S:=540}" "${BENCH_BATCH:=256}" "${BENCH_SIZE:=128}"
        : "${BENCH_PROJECTOR:=512-8192-8192-8192}" "${BENCH_STEPS:=5}"
        : "${PRETRAIN_DEVICE:=${DEVICES%%,*}}"
        : "${PRETRAIN_EPOCHS:=5}" "${PRETRAIN_BATCH:=256}" "${SCANS:=16}" "${TORCH_DEVICE:=cuda}"
        : "${TORCH_PRECISIONS:=fp32,tf32,bf16}"
        run_all
        ;;
    dry-run | --dry-run)
        # Everything the GPU run does, on the wgpu device of this machine (lavapipe), at
        # sizes a CPU finishes; PyTorch on the CPU if it is installed.
        [ "${SKIP_BUILD:-0}" = 1 ] || build
        : "${DEVICES:=wgpu}" "${BUDGET_S:=3600}" "${BENCH_BATCH:=8}" "${BENCH_SIZE:=64}"
        : "${BENCH_PROJECTOR:=512-512-512-512}" "${BENCH_STEPS:=2}" "${PRETRAIN_DEVICE:=wgpu}"
        : "${PRETRAIN_EPOCHS:=2}" "${PRETRAIN_BATCH:=16}" "${PRETRAIN_MAX_STEPS:=4}" "${SCANS:=4}"
        : "${TORCH_DEVICE:=cpu}"
        : "${TORCH_PRECISIONS:=fp32}" "${BURN_DTYPES:=f32}"
        run_all
        ;;
    *)
        die "usage: $0 build | run | dry-run"
        ;;
esac
