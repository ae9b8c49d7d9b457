"""Approximate search, side by side: xmodal's graph index, hnswlib and FAISS
(HNSW32 and IVF-PQ with exact re-ranking) on the same vectors, queries and
threads, in one run.

Usage (Debian's python3-hnswlib and python3-faiss; OpenBLAS's variables are
unset so that numpy's exact search runs at full speed):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 \\
        tools/bench/ann_peers.py --dir /tmp/ann --xmodal ./xmodal --threads 2

--dir holds base.f32, image_queries.f32 and text_queries.f32 (made by
tools/bench/annvectors). For every library and each kind of query it
reports build time, memory, and queries/s at the smallest search effort
whose recall@10 over all the queries reaches 0.90, 0.95 and 0.99. Recall is
computed here the same way for every library, against exact search, with
ann-benchmarks' rule for ties: a returned vector counts if it scores as
high as the 10th true neighbour (duplicates are common in real collections).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

TARGETS = (0.90, 0.95, 0.99)
XMODAL_TARGETS = (0.85, 0.9, 0.91, 0.93, 0.95, 0.96, 0.97, 0.98, 0.99, 0.993, 0.996)


def rss_bytes():
    """Anonymous resident memory: what an index allocates, not the mapped base."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def machine():
    """The CPU the numbers came from: they mean little without it."""
    name, flags = "", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key.strip() == "model name" and not name:
                name = val.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(val.split())
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    return {"cpu": name, "cpus": os.cpu_count(), "features": [f for f in wanted if f in flags]}


def exact(base, queries, k):
    """Exact top-k rows and the k-th score, in blocks of the base."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    block = 1 << 17
    for lo in range(0, len(base), block):
        s = queries @ base[lo:lo + block].T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
        cs = np.concatenate([best_s, ps], axis=1)
        ci = np.concatenate([best_i, part + lo], axis=1)
        order = np.argsort(-cs, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(cs, order, axis=1)
        best_i = np.take_along_axis(ci, order, axis=1)
    return best_i, best_s


def cached_exact(d, kind, base, queries, k):
    """exact(), kept in d beside the vectors: at 10M rows it takes about 11
    minutes, and the base and queries rarely change between runs. The cache is
    keyed by the base's size and modification time and the queries' bytes, so
    regenerated vectors are never scored against stale neighbours."""
    st = os.stat(base.filename)
    key = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}:{k}:".encode() + queries.tobytes()).hexdigest()[:16]
    path = os.path.join(d, f"truth_{kind}_{key}.npz")
    if os.path.exists(path):
        z = np.load(path)
        return z["i"], z["s"]
    i, s = exact(base, queries, k)
    tmp = path + ".tmp.npz"
    np.savez(tmp, i=i, s=s)
    os.replace(tmp, path)
    return i, s


def recall(base, queries, truth_i, truth_s, got, k):
    found = 0
    for q in range(len(queries)):
        rows = [r for r in got[q][:k] if r >= 0]
        if not rows:
            continue
        scores = base[rows] @ queries[q]
        floor = truth_s[q, k - 1] - 1e-5
        want = set(truth_i[q].tolist())
        n = sum(1 for r, s in zip(rows, scores) if r in want or s >= floor)
        found += min(n, k)
    return found / (len(queries) * k)


def sweep(name, search, efforts, base, queries, truth, k):
    """Runs search(ef) for growing efforts; returns the rows of a table."""
    points = []
    for ef in efforts:
        t = time.perf_counter()
        got = search(ef)
        dt = time.perf_counter() - t
        r = recall(base, queries, truth[0], truth[1], got, k)
        points.append({"effort": ef, "recall": r, "qps": len(queries) / dt})
        print(f"  {name} effort {ef}: recall {r:.4f}, {len(queries)/dt:.0f} q/s", file=sys.stderr)
        if r >= max(TARGETS) + 0.005:
            break
    return points


def at_targets(points):
    out = {}
    for t in TARGETS:
        ok = [p for p in points if p["recall"] >= t]
        out[f"{t:.2f}"] = max(ok, key=lambda p: p["qps"]) if ok else None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--xmodal", required=True, help="the xmodal binary")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--queries", type=int, default=2000, help="queries of each kind")
    ap.add_argument("--only", default="xmodal,hnswlib,hnswlib-native,faiss-hnsw,faiss-ivfpq")
    ap.add_argument("--hnswlib-native", default="",
                    help="tools/bench/hnswlib_native.cpp built with -march=native (hnswlib-native is skipped without it)")
    ap.add_argument("--nlist", type=int, default=1024,
                    help="IVF-PQ's lists, trained on 64 vectors each (FAISS advises 4-16·sqrt(n); k-means time grows with the square)")
    ap.add_argument("--out", default="", help="write the results here as JSON")
    a = ap.parse_args()
    only = a.only.split(",")

    meta = json.load(open(os.path.join(a.dir, "vectors.json")))
    dim = meta["dim"]
    # Mapped, not read: at 10M rows the peers need the memory more than this process.
    base = np.memmap(os.path.join(a.dir, "base.f32"), dtype="<f4", mode="r").reshape(-1, dim)
    qsets = {}
    for kind in ("image", "text"):
        q = np.fromfile(os.path.join(a.dir, f"{kind}_queries.f32"), dtype="<f4").reshape(-1, dim)
        q = q[np.linspace(0, len(q) - 1, min(a.queries, len(q))).astype(int)]
        path = os.path.join(a.dir, f"bench_{kind}_queries.f32")
        q.tofile(path)
        qsets[kind] = (q, path)
    print(f"{len(base)} × {dim} base vectors; {a.queries} queries of each kind; {a.threads} threads", file=sys.stderr)
    truth = {}
    for kind, (q, _) in qsets.items():
        t = time.perf_counter()
        truth[kind] = cached_exact(a.dir, kind, base, q, a.k)
        print(f"exact {kind}: {time.perf_counter()-t:.1f}s", file=sys.stderr)

    results = {"machine": machine(), "vectors": meta, "n": len(base), "dim": dim, "threads": a.threads, "k": a.k,
               "libraries": {}}

    def save():
        # After every library, not only at the end: at 10M rows a run takes
        # hours, and a run stopped half-way keeps what it measured.
        if a.out:
            with open(a.out + ".tmp", "w") as f:
                f.write(json.dumps(results, indent=1) + "\n")
            os.replace(a.out + ".tmp", a.out)

    if "xmodal" in only:
        # xmodal tunes its own effort to each target on 500 of the queries;
        # recall is then computed here over all of them. Targets between
        # and just above the reported ones give it a sweep like the others'.
        outp = os.path.join(a.dir, "xmodal_neighbours")
        cmd = [a.xmodal, "bench", "ann", "--base", os.path.join(a.dir, "base.f32"),
               "--queries", ",".join(p for _, p in qsets.values()), "--dim", str(dim), "--k", str(a.k),
               "--recall", ",".join(str(t) for t in XMODAL_TARGETS), "--threads", str(a.threads),
               "--out", outp, "--json"]
        print(" ".join(cmd), file=sys.stderr)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
        lines = [json.loads(l) for l in proc.stdout.decode().splitlines() if l.strip()]
        lib = {"build_s": lines[0]["build_s"], "index_bytes": lines[0]["index_bytes"],
               "memory_note": "int8 codes + graph in memory; float32 vectors mapped from disk for re-ranking",
               "params": {k: lines[0][k] for k in ("degree", "build_effort", "alpha")}}
        for kind, (q, path) in qsets.items():
            pts = []
            for l in lines:
                if l["queries_file"] != path:
                    continue
                nb = np.fromfile(f"{outp}.{os.path.basename(path)}.{l['recall_target']}", dtype="<i4").reshape(-1, a.k)
                r = recall(base, q, truth[kind][0], truth[kind][1], nb, a.k)
                pts.append({"effort": l["effort"], "recall": r, "qps": l["qps"], "recall_tuned": l["recall_tuned"]})
            lib[kind] = {"points": pts, "at": at_targets(pts)}
        results["libraries"]["xmodal"] = lib
        save()

    efforts = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]
    if "hnswlib-native" in only and a.hnswlib_native:
        # One build, then a sweep per kind of query.
        lib = {"memory_note": "resident growth while building, float32 vectors included",
               "params": {"M": 16, "ef_construction": 200, "compiled": "g++ -O3 -march=native"}}
        outs = {kind: os.path.join(a.dir, f"hnswlib_native_{kind}") for kind in qsets}
        cmd = [a.hnswlib_native, os.path.join(a.dir, "base.f32"), str(dim), ",".join(p for _, p in qsets.values()),
               str(a.k), str(a.threads), ",".join(outs.values()), ",".join(str(e) for e in efforts[:10])]
        print(" ".join(cmd), file=sys.stderr)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
        pts = {kind: [] for kind in qsets}
        for l in proc.stdout.decode().splitlines():
            p = json.loads(l)
            kind = next(k for k, (_, path) in qsets.items() if path == p["queries"])
            q = qsets[kind][0]
            lib["build_s"], lib["index_bytes"] = p["build_s"], p["index_bytes"]
            nb = np.fromfile(f"{outs[kind]}.{p['effort']}", dtype="<i4").reshape(-1, a.k)
            r = recall(base, q, truth[kind][0], truth[kind][1], nb, a.k)
            pts[kind].append({"effort": p["effort"], "recall": r, "qps": p["qps"]})
            print(f"  hnswlib-native {kind} effort {p['effort']}: recall {r:.4f}, {p['qps']:.0f} q/s", file=sys.stderr)
        for kind in qsets:
            lib[kind] = {"points": pts[kind], "at": at_targets(pts[kind])}
        results["libraries"]["hnswlib-native"] = lib
        save()
    if "hnswlib" in only:
        import hnswlib
        r0 = rss_bytes()
        t = time.perf_counter()
        idx = hnswlib.Index(space="ip", dim=dim)
        idx.init_index(max_elements=len(base), M=16, ef_construction=200)
        idx.add_items(base, num_threads=a.threads)
        lib = {"build_s": time.perf_counter() - t, "index_bytes": rss_bytes() - r0,
               "memory_note": "resident growth while building, float32 vectors included",
               "params": {"M": 16, "ef_construction": 200}}
        print(f"hnswlib built in {lib['build_s']:.1f}s", file=sys.stderr)
        for kind, (q, _) in qsets.items():
            def search(ef):
                idx.set_ef(max(ef, a.k))
                labels, _ = idx.knn_query(q, k=a.k, num_threads=a.threads)
                return labels
            pts = sweep(f"hnswlib {kind}", search, efforts, base, q, truth[kind], a.k)
            lib[kind] = {"points": pts, "at": at_targets(pts)}
        results["libraries"]["hnswlib"] = lib
        save()
        del idx

    if "faiss-hnsw" in only or "faiss-ivfpq" in only:
        import faiss
        faiss.omp_set_num_threads(a.threads)
    if "faiss-hnsw" in only:
        r0 = rss_bytes()
        t = time.perf_counter()
        idx = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = 200
        idx.add(base)
        lib = {"build_s": time.perf_counter() - t, "index_bytes": rss_bytes() - r0,
               "memory_note": "resident growth while building, float32 vectors included",
               "params": {"M": 32, "efConstruction": 200}}
        print(f"faiss HNSW32 built in {lib['build_s']:.1f}s", file=sys.stderr)
        for kind, (q, _) in qsets.items():
            def search(ef):
                idx.hnsw.efSearch = max(ef, a.k)
                _, labels = idx.search(q, a.k)
                return labels
            pts = sweep(f"faiss-hnsw {kind}", search, efforts, base, q, truth[kind], a.k)
            lib[kind] = {"points": pts, "at": at_targets(pts)}
        results["libraries"]["faiss-hnsw32"] = lib
        save()
        del idx
    if "faiss-ivfpq" in only:
        nlist = a.nlist
        m = dim // 8
        r0 = rss_bytes()
        t = time.perf_counter()
        idx = faiss.index_factory(dim, f"IVF{nlist},PQ{m},RFlat", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        idx.train(base[rng.choice(len(base), min(len(base), 64 * nlist), replace=False)])
        idx.add(base)
        lib = {"build_s": time.perf_counter() - t, "index_bytes": rss_bytes() - r0,
               "memory_note": "resident growth while building, float32 vectors for the re-ranking included",
               "params": {"factory": f"IVF{nlist},PQ{m},RFlat", "k_factor": 32}}
        print(f"faiss IVF-PQ built in {lib['build_s']:.1f}s", file=sys.stderr)
        ivf = faiss.extract_index_ivf(faiss.downcast_index(idx.base_index))
        for kind, (q, _) in qsets.items():
            def search(nprobe):
                ivf.nprobe = nprobe
                idx.k_factor = 32
                _, labels = idx.search(q, a.k)
                return labels
            pts = sweep(f"faiss-ivfpq {kind}", search, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], base, q, truth[kind], a.k)
            lib[kind] = {"points": pts, "at": at_targets(pts)}
        results["libraries"]["faiss-ivfpq"] = lib
        save()

    save()
    # The summary table.
    print(f"\n{len(base)} × {dim}, k={a.k}, {a.threads} threads")
    print(f"{'library':14} {'build s':>8} {'memory MB':>10}  " + "  ".join(f"{kind} q/s @{t:.2f}" for kind in qsets for t in TARGETS))
    for name, lib in results["libraries"].items():
        cells = []
        for kind in qsets:
            for t in TARGETS:
                p = lib[kind]["at"][f"{t:.2f}"]
                cells.append(f"{p['qps']:>16.0f}" if p else f"{'—':>16}")
        print(f"{name:14} {lib['build_s']:8.1f} {lib['index_bytes']/1e6:10.0f}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
