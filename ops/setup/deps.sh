#!/usr/bin/env bash
# Installs the system packages dreamrank needs (OpenCV for gocv, OpenBLAS for
# fast matrix work, oneDNN for the networks' inference convolutions,
# ffmpeg-backed video I/O comes with libopencv-dev).
# With --test it also installs everything the tests need beyond that (tests
# never install anything themselves; a test that finds a program missing
# fails under CI=true and skips elsewhere, naming `make setup-test`):
#   - chromium: the browser test of the report UI (ops/web) drives it headless;
#   - python3-numpy (with Debian's python3): the self-test of the world-model
#     protocol's Python replica (worldmodel/remote);
#   - python3-msgpack and python3-websockets: the Python peers that speak
#     the openpi websocket protocol and its msgpack-numpy wire format
#     (policy/openpi, the Python world-model and judge examples).
# Other arguments name further Debian packages to install.
# Idempotent: it does nothing when everything is present.
set -euo pipefail

need=()
if [ "${1:-}" = "--test" ]; then
  shift
  [ -x /usr/bin/chromium ] || need+=(chromium)
  { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1; } || need+=(python3-numpy)
  /usr/bin/python3 -c 'import msgpack' >/dev/null 2>&1 || need+=(python3-msgpack)
  /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || need+=(python3-websockets)
fi
pkg-config --exists opencv4 2>/dev/null || need+=(libopencv-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -e /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] || [ -e /usr/include/openblas/cblas.h ] || dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
[ -e /usr/include/oneapi/dnnl/dnnl.h ] || dpkg -s libdnnl-dev >/dev/null 2>&1 || need+=(libdnnl-dev)
for extra in "$@"; do
  dpkg -s "$extra" >/dev/null 2>&1 || need+=("$extra")
done

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "dreamrank setup: installing ${need[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "dreamrank setup: missing packages (${need[*]}) and not root; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh machine may never have fetched package lists; a stale list 404s.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "dreamrank setup: done" >&2
