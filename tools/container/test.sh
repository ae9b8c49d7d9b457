#!/usr/bin/env bash
# Builds the container image and runs it for real with podman, as a user
# of the original example would run it with docker:
#
#   1. the build is reproducible: two builds give the same image digest;
#   2. `run -p 45678:45678 IMAGE` starts the demo: /readyz turns 200 and the
#      seed's curl query gets five image matches;
#   3. `run -v photos:/photos -v VOLUME:/data IMAGE index ...`, then
#      `... search` and `... serve` over the mounted folder, as non-root.
#
# podman needs two settings on these machines: the runc runtime (crun fails
# on the hybrid cgroup setup) and default_ulimits = [] (setting rlimits is
# not permitted). Images and volumes go to a temporary storage root, so the
# machine's own is untouched. Usage: bash tools/container/test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
podman() { command podman --runtime runc --root "$work/storage" --runroot "$work/run" "$@"; }
cleanup() {
  podman rm -f -t 0 xmodal-test-demo xmodal-test-serve >/dev/null 2>&1 || true
  podman volume rm -f xmodal-test-data >/dev/null 2>&1 || true
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The loopback address that podman mapped a container's port 45678 to.
address() { echo "http://$(podman port "$1" 45678/tcp)"; }

wait_ready() { # URL NAME
  for _ in $(seq 1 180); do
    if curl -sf "$1/readyz" >/dev/null; then return 0; fi
    if [ "$(podman inspect -f '{{.State.Running}}' "$2" 2>/dev/null)" != true ]; then
      podman logs "$2" >&2 || true
      fail "$2 stopped before it was ready"
    fi
    sleep 1
  done
  podman logs "$2" >&2 || true
  fail "$2 not ready after 3 minutes"
}

echo "== build (twice: the digests must match)"
d1=$(bash tools/container/build.sh "$work/image.tar" xmodal-test:latest | sed -n 's/^digest: //p')
d2=$(bash tools/container/build.sh "$work/image2.tar" xmodal-test:latest | sed -n 's/^digest: //p')
[ -n "$d1" ] && [ "$d1" = "$d2" ] || fail "two builds gave different digests: $d1 and $d2"
size=$(stat -c %s "$work/image.tar")
echo "digest $d1, archive $((size / 1024 / 1024)) MiB"
[ "$size" -le $((80 * 1024 * 1024)) ] || fail "the image archive is $size bytes, above 80 MiB"

echo "== load"
podman load -i "$work/image.tar"
[ "$(podman image inspect -f '{{.Digest}}' xmodal-test:latest)" = "$d1" ] || fail "the loaded image's digest is not $d1"
[ "$(podman image inspect -f '{{.Config.User}}' xmodal-test:latest)" = "65532:65532" ] || fail "the image does not run as the non-root user"
labels=$(podman image inspect -f '{{json .Labels}}' xmodal-test:latest)
for l in org.opencontainers.image.source org.opencontainers.image.version org.opencontainers.image.licenses org.opencontainers.image.revision; do
  grep -q "\"$l\"" <<<"$labels" || fail "label $l is missing: $labels"
done
podman image ls xmodal-test:latest

echo "== run: the demo, queried as the original example's README does"
podman run -d --name xmodal-test-demo -p 127.0.0.1::45678 xmodal-test:latest >/dev/null
url=$(address xmodal-test-demo)
wait_ready "$url" xmodal-test-demo
answer=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"top_k":5,"mode":"search","data":["a red heart"]}' "$url/search")
# Five image matches, in each of the two envelopes (search and data).
grep -q '"status":{"code":"SUCCESS"}' <<<"$answer" || fail "the seed's query: ${answer:0:300}"
[ "$(grep -o '"mime_type":"image/[a-z]*"' <<<"$answer" | wc -l)" = 10 ] || fail "want 5 image matches per envelope: ${answer:0:300}"
first=$(grep -o '"uri":"http://[^"]*"' <<<"$answer" | head -1 | cut -d'"' -f4)
curl -sf -o /dev/null "$first" || fail "the first match's image $first does not load"
podman exec xmodal-test-demo /xmodal healthcheck >/dev/null || fail "healthcheck in the container"
podman rm -f -t 5 xmodal-test-demo >/dev/null

echo "== run: index a mounted folder into a volume, search it, serve it"
photos="$work/photos"
mkdir -p "$photos/holiday"
for f in 02_exif6_320x240.jpg 04_wide_900x60.png 05_la_250x330.png 08_rgb_732x672.png; do
  cp "testdata/clip/images/$f" "$photos/holiday/$f"
done
echo "a wide strip of colour" >"$photos/holiday/04_wide_900x60.txt"
chmod -R a+rX "$photos"
podman run --rm -v "$photos:/photos:ro" -v xmodal-test-data:/data xmodal-test:latest \
  index --data /photos --workspace /data/photos
hits=$(podman run --rm -v xmodal-test-data:/data xmodal-test:latest \
  search --workspace /data/photos --text "a wide strip of colour" --top-k 4 --json)
[ "$(grep -c '"id"' <<<"$hits")" = 4 ] || fail "search in the container: $hits"
podman run -d --name xmodal-test-serve -p 127.0.0.1::45678 -v xmodal-test-data:/data \
  xmodal-test:latest serve --workspace /data/photos >/dev/null
url=$(address xmodal-test-serve)
wait_ready "$url" xmodal-test-serve
stats=$(curl -sf "$url/api/v1/stats")
grep -q '"images":4' <<<"$stats" || fail "stats of the served folder: $stats"
answer=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"parameters":{"top_k":4},"data":["a wide strip of colour"]}' "$url/search")
grep -q '"mime_type":"image/png"' <<<"$answer" || fail "search of the served folder: ${answer:0:300}"
echo "PASS: container image $d1 ($((size / 1024 / 1024)) MiB)"
