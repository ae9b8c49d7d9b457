# xmodal's container image, for machines that reach a registry:
#
#   docker build -t xmodal --build-arg VERSION=$(git describe --always) .
#   docker run -p 45678:45678 xmodal
#
# Without a registry, tools/container/build.sh assembles the same layout
# from a host build, with no engine at all (and reproducibly). Keep the two
# in step: a static binary, Mozilla's CA roots compiled in (for models
# pull), the non-root user 65532, /data as the volume for workspaces and
# the model cache, port 45678, and /xmodal healthcheck asking /readyz.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X main.version=${VERSION}" -o /rootfs/xmodal ./cmd/xmodal \
 && mkdir -p /rootfs/etc /rootfs/tmp /rootfs/usr/share/doc/xmodal /data \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nxmodal:x:65532:65532:xmodal:/data:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\nxmodal:x:65532:\n' >/rootfs/etc/group \
 && cp model/builtin/default/MODEL_CARD.md /rootfs/usr/share/doc/xmodal/ \
 && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
ENV PATH=/ HOME=/data XDG_CACHE_HOME=/data/cache
WORKDIR /data
VOLUME /data
EXPOSE 45678
HEALTHCHECK --interval=30s --timeout=5s --start-period=2m --retries=3 CMD ["/xmodal", "healthcheck"]
LABEL org.opencontainers.image.title="xmodal" \
      org.opencontainers.image.description="Cross-modal image and text search: CLI, REST API and web UI in one binary" \
      org.opencontainers.image.source="https://github.com/xmodal/xmodal" \
      org.opencontainers.image.licenses="NOASSERTION"
ENTRYPOINT ["/xmodal"]
CMD ["demo", "--addr", ":45678"]
