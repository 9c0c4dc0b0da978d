#!/usr/bin/env bash
# The main job on the bundled default model: inspect it, run it once on a
# sample input and print the outputs, and measure its latency.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh > /dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
ninja -C build -j"${JOBS:-2}" nibble_cli > /dev/null
MODEL=${1:-models/demo_cnn.onnx}
OUT=build/demo
mkdir -p "$OUT"
./build/nibble inspect "$MODEL"
.venv/bin/python - "$OUT/input.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32))
PY
./build/nibble run "$MODEL" -i "$OUT/input.npy" -o "$OUT"
echo "outputs:"
.venv/bin/python - "$OUT" <<'PY'
import sys, glob, os, numpy as np
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.npy"))):
    if f.endswith("input.npy"): continue
    a = np.load(f)
    print(f"  {os.path.basename(f)[:-4]}: shape {a.shape} {a.dtype}\n    {np.array2string(a, precision=4)}")
PY
./build/nibble bench "$MODEL" --threads 1 --runs 200 --warmup 20
