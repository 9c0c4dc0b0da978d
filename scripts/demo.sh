#!/usr/bin/env bash
# The main job on the bundled default: quantize the Fashion-MNIST CNN
# (models/fashion_cnn.onnx, trained by scripts/train_fashion_cnn.py) to int8 on
# 256 training images, evaluate float and int8 on the 10,000 test images, and
# print accuracy, model size and latency side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh > /dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
ninja -C build -j"${JOBS:-2}" nibble_cli > /dev/null

MODEL=models/fashion_cnn.onnx
OUT=build/demo
DATA=/usr/share/datasets/fashion-mnist
NORM=(--mean 0.2860 --std 0.3530)
TEST="idx:$DATA/t10k-images-idx3-ubyte.gz,$DATA/t10k-labels-idx1-ubyte.gz"
mkdir -p "$OUT"

echo "== quantize (W8A8, per-channel weights, minmax calibration on 256 training images)"
./build/nibble quantize "$MODEL" --calib "idx:$DATA/train-images-idx3-ubyte.gz" --calib-size 256 "${NORM[@]}" \
  -o "$OUT/fashion_cnn_int8.onnx"
echo
echo "== evaluate on the 10,000 test images"
./build/nibble eval "$MODEL" --data "$TEST" "${NORM[@]}" > "$OUT/eval_float.txt"
./build/nibble eval "$OUT/fashion_cnn_int8.onnx" --data "$TEST" "${NORM[@]}" --reference "$MODEL" \
  --sqnr-samples 100 > "$OUT/eval_int8.txt"
./build/nibble bench "$MODEL" --runs 300 --warmup 30 > "$OUT/bench_float.txt"
./build/nibble bench "$OUT/fashion_cnn_int8.onnx" --runs 300 --warmup 30 > "$OUT/bench_int8.txt"

field() { grep -o "$2=[0-9.]*" "$1" | head -1 | cut -d= -f2; }
printf "\n%-8s %10s %10s %12s %14s\n" model top-1 top-5 "size (KB)" "latency (ms)"
for kind in float int8; do
  f="$MODEL"; [ $kind = int8 ] && f="$OUT/fashion_cnn_int8.onnx"
  printf "%-8s %9s%% %9s%% %12d %14s\n" $kind "$(field $OUT/eval_$kind.txt top1)" "$(field $OUT/eval_$kind.txt top5)" \
    $(( $(stat -c %s "$f") / 1024 )) "$(field $OUT/bench_$kind.txt median_ms)"
done
echo "(batch 1, 1 thread; $(grep -o 'cpu: .*' $OUT/bench_float.txt))"
echo
echo "== the layers that lose the most (int8 vs float, SQNR over 100 test images)"
sed -n '/per-layer SQNR/,$p' "$OUT/eval_int8.txt" | head -6
