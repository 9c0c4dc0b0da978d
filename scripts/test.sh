#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, then
#  1. the unit tests, the ONNX backend node tests and the differential tests
#     against ONNX Runtime (all through ctest, in build/);
#  2. the same unit and node tests under AddressSanitizer + UBSan, and the
#     importer fuzzer for a bounded time (clang, in build-asan/).
# Set NIBBLE_SKIP_ASAN=1 to run only part 1 (quicker while developing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=${JOBS:-2}

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
ninja -C build -j"$JOBS"
status=0
ctest --test-dir build --output-on-failure -j1 --timeout 1500 || status=1

if [ "${NIBBLE_SKIP_ASAN:-0}" != 1 ]; then
  CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIBBLE_SANITIZE=ON \
    -DNIBBLE_FUZZ=ON -DNIBBLE_PYTHON_TESTS=OFF > /dev/null
  ninja -C build-asan -j"$JOBS"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j1 --timeout 1500 || status=1
fi
exit $status
