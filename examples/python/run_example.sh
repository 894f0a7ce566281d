#!/bin/sh
# Runs a world-model example server (default the PyTorch one) on a free
# port, checks it with the model contract kit and measures it with
# `dreamrank bench wm` through the websocket backend, then stops it.
#   examples/python/run_example.sh [torch_worldmodel_server.py] [server args...]
# (`make example-torch`; needs bin/dreamrank from `make build`.)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
script=${1:-torch_worldmodel_server.py}
[ $# -gt 0 ] && shift
log=$(mktemp)
/usr/bin/python3 -u "$here/$script" --port 0 "$@" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 600); do     # up to 60 s: importing torch is slow
  url=$(grep -o 'ws://[^ ]*' "$log" || true)
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "$script did not print its address"; cat "$log"; exit 1; }
echo "$script listening on $url"
cd "$root"
DREAMRANK_WM_PEER=$url go test -count=1 -run TestPeerAtURL -v ./worldmodel/websocket | grep -E '^(---|ok|FAIL)|spec'
bin/dreamrank bench wm --backend websocket --opt url="$url" --batches 4,16 --duration 2s --no-baseline
