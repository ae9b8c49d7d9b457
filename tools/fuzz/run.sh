#!/usr/bin/env bash
# Runs every fuzz target for a while: a number of executions (CI's budget,
# the default) or a duration.
#
#   bash tools/fuzz/run.sh            # 20000 executions each
#   bash tools/fuzz/run.sh 10m        # ten minutes each, to look for new bugs
#
# CI counts executions rather than seconds: with a time budget, an input
# still running (or a long first pass over a large cached corpus) at the
# deadline fails the run with "context deadline exceeded".
#
# A failing input is saved under the package's testdata/fuzz/FuzzName/ and
# then replays in every `go test`; commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/../.."
time=${1:-20000x}
targets=(
  ./server:FuzzCompatRequest
  ./server:FuzzAPIRequest
  ./imageio:FuzzDecode
  ./dataset:FuzzCaptionFiles
  ./safetensors:FuzzParse
  ./tokenize:FuzzEncode
  ./tokenize:FuzzTreebank
  ./pickle:FuzzUnpickle
  ./torchfile:FuzzRead
  ./index:FuzzReadGraph
  ./lexical:FuzzSearch
)
for t in "${targets[@]}"; do
  pkg=${t%%:*} name=${t##*:}
  echo "== fuzz $pkg $name ($time)"
  go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$time" 2>&1 | grep -v '^fuzz: elapsed' || { echo "FAIL: $pkg $name"; exit 1; }
done
