#!/usr/bin/env bash
# Installs everything nibble needs on a fresh Debian 12 machine: the C++ toolchain
# and libraries from Debian, and the Python test oracles (ONNX Runtime, onnx,
# numpy, pytest) into a virtual environment at .venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

DEB_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libprotobuf-dev protobuf-compiler libonnx-dev
  libcpuinfo-dev libdnnl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libstb-dev dataset-fashion-mnist zlib1g-dev
  clang libclang-rt-14-dev
  python3 python3-venv python3-pip
)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's interpreter, not whatever python3 is first on PATH, so that
# Debian's python3-torch (used later for training) is visible to the venv too.
PY=/usr/bin/python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  $PY -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
# qonnx (test oracle for QONNX import/export) without its dependency pins; see requirements.txt.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps qonnx==0.4.0
echo "[setup] done"
