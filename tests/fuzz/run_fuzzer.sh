#!/usr/bin/env bash
# Runs the importer fuzzer for a bounded time on a seed corpus of small node-test models.
# usage: run_fuzzer.sh FUZZER CORPUS_DIR NODE_DATA_DIR [SECONDS]
set -euo pipefail
fuzzer=$1 corpus=$2 data=$3 seconds=${4:-${NIBBLE_FUZZ_SECONDS:-60}}
mkdir -p "$corpus"
if [ -z "$(ls -A "$corpus")" ]; then
  for t in conv_with_strides_padding gemm_default_no_bias add_bcast relu maxpool_2d_pads reshape_reordered_all_dims \
           batchnorm_example softmax_axis_1 concat_2d_axis_0 slice; do
    [ -f "$data/test_$t/model.onnx" ] && cp "$data/test_$t/model.onnx" "$corpus/$t.onnx"
  done
fi
exec "$fuzzer" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
