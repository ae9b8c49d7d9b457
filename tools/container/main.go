// Command container assembles xmodal's container image from a static
// binary, without a container engine or a registry: it writes an OCI image
// layout as one tar archive, which `podman load` and `docker load` take.
// tools/container/build.sh builds the binary and calls it.
//
// The image is FROM scratch: the binary (CA roots compiled in), an
// /etc/passwd naming the non-root user 65532, /data owned by that user as
// the volume for workspaces and the model cache, /tmp, and the model card.
// Every byte is a function of the inputs: file times are --created, owners
// are written explicitly (so /data is the user's whatever the build
// machine), entries are sorted and gzip carries no name or time. The same
// source thus gives the same image digest.
//
// The archive holds both the OCI layout (oci-layout, index.json, blobs/)
// and Docker's manifest.json, which points at the same blobs, so that
// Docker versions that predate OCI archives load it too.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The user the server runs as: not root, and the same id as distroless's
// "nonroot", so volumes prepared for one suit the other.
const (
	uid  = 65532
	user = "xmodal"
)

// Port is the port of the original example's REST API.
const port = "45678"

func main() {
	binary := flag.String("binary", "", "the static xmodal binary (linux/amd64)")
	out := flag.String("out", "", "the image archive to write")
	tag := flag.String("tag", "xmodal:latest", "the name:tag the loaded image gets")
	version := flag.String("version", "", "the version, for the labels")
	revision := flag.String("revision", "", "the source revision, for the labels")
	source := flag.String("source", "https://github.com/xmodal/xmodal", "the source repository, for the labels")
	license := flag.String("license", "NOASSERTION", "the SPDX licence expression, for the labels")
	created := flag.Int64("created", 0, "the creation time, in seconds since 1970 (SOURCE_DATE_EPOCH)")
	modelCard := flag.String("model-card", "", "the default model's card, shipped as /usr/share/doc/xmodal/MODEL_CARD.md")
	flag.Parse()
	if *binary == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: container --binary BIN --out IMAGE.tar [--tag NAME:TAG] [--version V] [--revision R] [--created EPOCH] [--model-card FILE]")
		os.Exit(2)
	}
	img := image{
		tag: *tag, created: time.Unix(*created, 0).UTC(),
		labels: map[string]string{
			"org.opencontainers.image.title":       "xmodal",
			"org.opencontainers.image.description": "Cross-modal image and text search: CLI, REST API and web UI in one binary",
			"org.opencontainers.image.source":      *source,
			"org.opencontainers.image.url":         *source,
			"org.opencontainers.image.version":     *version,
			"org.opencontainers.image.revision":    *revision,
			"org.opencontainers.image.licenses":    *license,
			"org.opencontainers.image.created":     time.Unix(*created, 0).UTC().Format(time.RFC3339),
		},
	}
	digest, err := img.write(*binary, *modelCard, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "container: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}

// image is what goes into the archive besides the files.
type image struct {
	tag     string
	created time.Time
	labels  map[string]string
}

// file is one entry of the image's only layer.
type file struct {
	name string // without a leading slash
	mode int64
	uid  int
	data []byte // nil for a directory
}

// files lists the layer's contents.
func files(binary, modelCard []byte) []file {
	dir := func(name string, mode int64, owner int) file {
		return file{name: name, mode: mode, uid: owner}
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:xmodal:/data:/sbin/nologin\n", user, uid, uid)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", user, uid)
	list := []file{
		dir("data", 0o755, uid),
		dir("etc", 0o755, 0),
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		dir("tmp", 0o1777, 0),
		{name: "xmodal", mode: 0o755, data: binary},
	}
	if modelCard != nil {
		list = append(list,
			dir("usr", 0o755, 0), dir("usr/share", 0o755, 0), dir("usr/share/doc", 0o755, 0), dir("usr/share/doc/xmodal", 0o755, 0),
			file{name: "usr/share/doc/xmodal/MODEL_CARD.md", mode: 0o644, data: modelCard})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	return list
}

// layer writes the files as a tar and its gzip form.
func (img image) layer(files []file) (tarball, gz []byte, err error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: img.created,
			Typeflag: tar.TypeReg, Size: int64(len(f.data)), Format: tar.FormatPAX,
		}
		if f.data == nil {
			h.Typeflag, h.Name = tar.TypeDir, f.name+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return nil, nil, err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), z.Bytes(), nil
}

// descriptor names a blob, as OCI manifests and indexes do.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func describe(mediaType string, blob []byte) descriptor {
	return descriptor{MediaType: mediaType, Digest: sha(blob), Size: len(blob)}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// write builds the archive and returns the manifest's digest, which is the
// image's digest.
func (img image) write(binaryPath, modelCardPath, out string) (string, error) {
	binary, err := os.ReadFile(binaryPath)
	if err != nil {
		return "", err
	}
	var card []byte
	if modelCardPath != "" {
		if card, err = os.ReadFile(modelCardPath); err != nil {
			return "", err
		}
	}
	tarball, gz, err := img.layer(files(binary, card))
	if err != nil {
		return "", fmt.Errorf("layer: %w", err)
	}

	created := img.created.Format(time.RFC3339)
	config := map[string]any{
		"created":      created,
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"User":         strconv.Itoa(uid) + ":" + strconv.Itoa(uid),
			"Env":          []string{"PATH=/", "HOME=/data", "XDG_CACHE_HOME=/data/cache"},
			"Entrypoint":   []string{"/xmodal"},
			"Cmd":          []string{"demo", "--addr", ":" + port},
			"WorkingDir":   "/data",
			"ExposedPorts": map[string]any{port + "/tcp": map[string]any{}},
			"Volumes":      map[string]any{"/data": map[string]any{}},
			"Labels":       img.labels,
			"StopSignal":   "SIGTERM",
			// Docker reads this; engines that keep to OCI ignore it.
			"Healthcheck": map[string]any{
				"Test":        []string{"CMD", "/xmodal", "healthcheck"},
				"Interval":    int64(30 * time.Second),
				"Timeout":     int64(5 * time.Second),
				"StartPeriod": int64(2 * time.Minute),
				"Retries":     3,
			},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{sha(tarball)}},
		"history": []map[string]any{{"created": created, "created_by": "tools/container/build.sh"}},
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return "", err
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        describe("application/vnd.oci.image.config.v1+json", configJSON),
		"layers":        []descriptor{describe("application/vnd.oci.image.layer.v1.tar+gzip", gz)},
		"annotations":   img.labels,
	}
	manifestJSON, err := json.Marshal(manifest)
	if err != nil {
		return "", err
	}
	md := describe("application/vnd.oci.image.manifest.v1+json", manifestJSON)
	md.Annotations = map[string]string{
		// The tag part is the OCI reference name; containerd and Docker
		// read the full name.
		"org.opencontainers.image.ref.name": img.tag[strings.LastIndex(img.tag, ":")+1:],
		"io.containerd.image.name":          qualified(img.tag),
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []descriptor{md},
	})
	if err != nil {
		return "", err
	}
	blob := func(b []byte) string { return "blobs/sha256/" + strings.TrimPrefix(sha(b), "sha256:") }
	dockerManifest, err := json.Marshal([]map[string]any{{
		"Config": blob(configJSON), "RepoTags": []string{img.tag}, "Layers": []string{blob(gz)},
	}})
	if err != nil {
		return "", err
	}

	entries := []file{
		{name: "blobs", mode: 0o755},
		{name: "blobs/sha256", mode: 0o755},
		{name: blob(configJSON), mode: 0o644, data: configJSON},
		{name: blob(gz), mode: 0o644, data: gz},
		{name: blob(manifestJSON), mode: 0o644, data: manifestJSON},
		{name: "index.json", mode: 0o644, data: index},
		{name: "manifest.json", mode: 0o644, data: dockerManifest},
		{name: "oci-layout", mode: 0o644, data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	}
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: img.created, Typeflag: tar.TypeReg, Size: int64(len(e.data)), Format: tar.FormatPAX}
		if e.data == nil {
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
		if _, err := tw.Write(e.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	// Write beside the target and rename, so that a failed build leaves no
	// half archive under the final name.
	tmp := out + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, archive.Bytes(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return md.Digest, nil
}

// qualified spells an image name in full, as Docker does: "xmodal:1" is
// docker.io/library/xmodal:1.
func qualified(name string) string {
	first, _, found := strings.Cut(name, "/")
	switch {
	case found && (strings.ContainsAny(first, ".:") || first == "localhost"):
		return name
	case found:
		return "docker.io/" + name
	}
	return "docker.io/library/" + name
}
