#!/usr/bin/env bash
# Builds xmodal's container image as an OCI archive, with nothing but Go:
#
#   bash tools/container/build.sh xmodal.tar [NAME:TAG]
#   podman load -i xmodal.tar      # or: docker load -i xmodal.tar
#   podman run -p 45678:45678 xmodal
#
# The binary is static (CGO off) and the image is FROM scratch (see
# tools/container/main.go for its layout). Builds are reproducible: the same
# source gives the same image digest, printed last. File times are
# SOURCE_DATE_EPOCH, which defaults to the time of the last commit.
# XMODAL_VERSION overrides the version (default: git describe).
set -euo pipefail
cd "$(dirname "$0")/../.."

out=${1:?usage: tools/container/build.sh OUT.tar [NAME:TAG]}
tag=${2:-xmodal:latest}

if git rev-parse --git-dir >/dev/null 2>&1; then
  revision=$(git rev-parse HEAD)
  version=${XMODAL_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo "$revision")}
  epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
else
  revision=unknown
  version=${XMODAL_VERSION:-unknown}
  epoch=${SOURCE_DATE_EPOCH:-0}
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== building the static binary (xmodal $version)" >&2
# -trimpath and an empty build id keep the build machine out of the
# binary; the version comes from the flags, not from the VCS stamp.
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -buildid= -X main.version=$version" \
  -o "$work/xmodal" ./cmd/xmodal

echo "== assembling the image" >&2
go run ./tools/container --binary "$work/xmodal" --out "$out" --tag "$tag" \
  --version "$version" --revision "$revision" --created "$epoch" \
  --model-card model/builtin/default/MODEL_CARD.md >"$work/digest"

size=$(stat -c %s "$out")
echo "image: $out ($tag), $((size / 1024 / 1024)) MiB compressed" >&2
echo "digest: $(cat "$work/digest")"
