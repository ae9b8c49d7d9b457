#!/usr/bin/env bash
# Every measurement a candidate default model is judged by, through xmodal
# itself (the model card's tables come from here):
#
#   bash tools/eval/candidate.sh MODEL_DIR OUT_DIR
#
# MODEL_DIR is an exported model folder (tools/train/export.py) or "default".
# Environment, with the defaults used on the development machines:
#   CORPUS   the training corpus (tools/corpus/build.sh)      /work/cache/corpus
#   TUX      the Tux Paint set (tools/eval/tuxpaint.py)        /work/cache/tuxeval
#   GAME     the game-icons set (tools/eval/gameicons.py)      /work/cache/gameeval
#   DEMO     the demo sample                                    demo/sample
#   XMODAL   the binary; built from this checkout when unset
# OUT_DIR gets one workspace, one text and one JSON report per measurement
# (and NAME.ranks.jsonl, every query's rank: xmodal eval --ranks; the JSON has
# each recall's 95 % interval, --ci):
# test, val, test-article (captions with "a"/"an"), test-sentence (the same
# as sentences: "A dog."), tux and game (out of the corpus),
# demo (the demo sample's own captions) and everyday (the newcomer's queries
# on the demo, hit rate in the top 5).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 MODEL_DIR OUT_DIR" >&2
  exit 2
fi
MODEL="$1"
OUT="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CORPUS="${CORPUS:-/work/cache/corpus}"
TUX="${TUX:-/work/cache/tuxeval}"
GAME="${GAME:-/work/cache/gameeval}"
DEMO="${DEMO:-$ROOT/demo/sample}"
mkdir -p "$OUT"
if [ -z "${XMODAL:-}" ]; then
  XMODAL="$OUT/xmodal"
  (cd "$ROOT" && go build -o "$XMODAL" ./cmd/xmodal)
fi
# rephrased NAME [FLAGS]: the test split as with_articles.py rewrites it, made once into OUT/NAME.
rephrased() {
  local dir="$OUT/$1"
  shift
  [ -f "$dir/dataset_xmodal.json" ] ||
    /usr/bin/python3 "$HERE/with_articles.py" --corpus "$CORPUS" --split test --out "$dir" "$@" >/dev/null
}
rephrased article
rephrased sentence --sentence

# measure NAME DATA [SPLIT]: index DATA's split with the model, evaluate it.
measure() {
  local name="$1" data="$2" split="${3:-}"
  local args=()
  [ -n "$split" ] && args=(--split "$split")
  rm -rf "$OUT/ws-$name"
  "$XMODAL" index --data "$data" "${args[@]}" --workspace "$OUT/ws-$name" --model "$MODEL" >"$OUT/ws-$name.log" 2>&1
  "$XMODAL" eval --workspace "$OUT/ws-$name" "${args[@]}" | tee "$OUT/$name.txt"
  "$XMODAL" eval --workspace "$OUT/ws-$name" "${args[@]}" --json --ci --ranks "$OUT/$name.ranks.jsonl" >"$OUT/$name.json"
}

measure test "$CORPUS" test
measure val "$CORPUS" val
measure test-article "$OUT/article" test
measure test-sentence "$OUT/sentence" test
measure tux "$TUX" test
measure game "$GAME" test
measure demo "$DEMO"
"$XMODAL" eval --workspace "$OUT/ws-demo" --queries "$ROOT/testdata/queries/everyday.tsv" --model "$MODEL" >"$OUT/everyday.txt"
"$XMODAL" eval --workspace "$OUT/ws-demo" --queries "$ROOT/testdata/queries/everyday.tsv" --model "$MODEL" --json >"$OUT/everyday.json"
tail -1 "$OUT/everyday.txt"
