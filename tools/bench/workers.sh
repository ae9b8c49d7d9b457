#!/usr/bin/env bash
# Measures how distributed indexing scales with worker processes: for each
# N, a fresh database workspace gets the first LIMIT images of DATA queued
# (`index --enqueue`), then N `xmodal worker` processes with one core each
# (GOMAXPROCS=1) index them. images_per_s is the queue's images over the
# wall time from the first worker's start to the last one's exit;
# queue_images_per_s uses the queue's own clock instead, from the first
# claim to the last completion, leaving out loading the model.
#
#   tools/bench/workers.sh PGURL DATA [LIMIT] [N...]
#
# PGURL is a server (as a user that may create databases), for example
# postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable; the model is
# the embedded default. Prints one JSON line per N.
set -euo pipefail
url=$1 data=$2 limit=${3:-20000}
shift $(( $# < 3 ? $# : 3 ))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2)
bin=$(mktemp -d)/xmodal
go build -o "$bin" ./cmd/xmodal
for n in "${counts[@]}"; do
  db="xmodal_bench_workers_${n}_$$"
  psql -q "$url" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  ws=$(python3 -c "import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path='/'+sys.argv[2]).geturl())" "$url" "$db")
  "$bin" index --data "$data" --workspace "$ws" --vectors local --limit "$limit" --enqueue >/dev/null 2>&1
  start=$(date +%s.%N)
  pids=()
  for i in $(seq "$n"); do
    GOMAXPROCS=1 "$bin" worker --workspace "$ws" --name "w$i" 2>/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}"
  end=$(date +%s.%N)
  "$bin" index --workspace "$ws" --status --json | python3 -c "
import json, sys
from datetime import datetime
s = json.load(sys.stdin)
wall = $end - $start
t = lambda x: datetime.fromisoformat(x.replace('Z', '+00:00')).timestamp()
busy = t(s['last_done']) - min(t(w['started']) for w in s['workers'])
print(json.dumps({'workers': $n, 'images': s['images_done'], 'failed': s['images_failed'], 'wall_s': round(wall, 2),
  'images_per_s': round(s['images_done'] / wall, 1), 'queue_s': round(busy, 2), 'queue_images_per_s': round(s['images_done'] / busy, 1),
  'per_worker': {w['name']: w['images'] for w in s['workers']}}))"
  psql -q "$url" -c "DROP DATABASE $db"
done
