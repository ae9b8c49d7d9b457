#!/usr/bin/env bash
# Build xmodal's offline image-caption training corpus from pinned packages.
# Usage: bash tools/corpus/build.sh [OUT_DIR]   (default /work/cache/corpus)
#        GCOMPRIS=1 bash tools/corpus/build.sh OUT_DIR   adds GCompris's pictures
#        to the training split (val and test are the same either way)
#        SUPPLEMENT=1 bash tools/corpus/build.sh OUT_DIR   adds every other openly
#        licensed icon set of @iconify/json to the training split, likewise
#        PYSIOGAME=1 bash tools/corpus/build.sh OUT_DIR   adds pysiogame's Art4Apps
#        drawings to the training split, likewise (the three combine)
# Needs root (apt-get) and the npm client. Deterministic: pinned versions,
# sorted inputs, fixed split seed.
set -euo pipefail
OUT="${1:-/work/cache/corpus}"
NPM_PREFIX="${NPM_PREFIX:-$(dirname "$OUT")/npm}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- pinned sources (see MODEL_CARD.md) ----
NPM_PKGS=(
  emoji-datasource-google@16.0.0
  emoji-datasource-twitter@16.0.0
  openmoji@17.0.0
  emojibase-data@17.0.0
  @tabler/icons@3.52.0
  lucide-static@1.62.0
  @iconify/json@2.2.535
)
APT_PKGS=(
  openclipart-png=1:0.18+dfsg-19
  openclipart-svg=1:0.18+dfsg-19
  gir1.2-rsvg-2.0
  python3-gi
  python3-gi-cairo
  python3-cairo
  python3-pil
  wordnet
)

if ! dpkg -s "${APT_PKGS[@]%%=*}" >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PKGS[@]}"
fi
mkdir -p "$NPM_PREFIX"
npm install --no-audit --no-fund --no-save --prefix "$NPM_PREFIX" "${NPM_PKGS[@]}"

# The picture supplements come straight from their pinned .debs, unpacked
# beside npm's tree (the games themselves are not installed).
# unpack_deb PACKAGE VERSION: prints the folder the package is unpacked in.
unpack_deb() {
  local dir
  dir="$(dirname "$NPM_PREFIX")/${1%%-*}"
  if [ ! -d "$dir/root" ]; then
    mkdir -p "$dir"
    # unpacked aside and renamed, so an interrupted unpack is redone
    (cd "$dir" && apt-get download "$1=$2" >&2 && rm -rf root.tmp \
      && dpkg-deb -x "${1}_${2}_all.deb" root.tmp && mv root.tmp root)
  fi
  echo "$dir/root"
}

EXTRA=()
if [ "${GCOMPRIS:-0}" = 1 ]; then
  EXTRA+=(--gcompris "$(unpack_deb gcompris-qt-data 3.1-2)/usr/share/gcompris-qt/rcc")
fi
if [ "${SUPPLEMENT:-0}" = 1 ]; then
  EXTRA+=(--iconify-supplement)
fi
if [ "${PYSIOGAME:-0}" = 1 ]; then
  EXTRA+=(--pysiogame "$(unpack_deb pysiogame 4.20.01-1)")
fi

/usr/bin/python3 "$HERE/build_corpus.py" \
  --npm "$NPM_PREFIX/node_modules" \
  --openclipart /usr/share/openclipart \
  --out "$OUT" --size 128 --seed 20261127 --jobs "$(nproc)" "${EXTRA[@]}"
