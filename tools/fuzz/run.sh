#!/usr/bin/env bash
# Runs every fuzz target for a while (default 10s each; CI's budget):
#
#   bash tools/fuzz/run.sh            # 10s each
#   bash tools/fuzz/run.sh 10m        # longer, to look for new bugs
#
# A failing input is saved under the package's testdata/fuzz/FuzzName/ and
# then replays in every `go test`; commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/../.."
time=${1:-10s}
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
)
for t in "${targets[@]}"; do
  pkg=${t%%:*} name=${t##*:}
  echo "== fuzz $pkg $name ($time)"
  go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$time" 2>&1 | grep -v '^fuzz: elapsed' || { echo "FAIL: $pkg $name"; exit 1; }
done
