"""bench/vector: our HNSW index (triplegate-bench vector) against hnswlib and brute force, on the
same vectors, in one run. Single-threaded queries; builds single-threaded for both.

Usage: python bench/vector.py OUT_DIR SIZE[,SIZE...] [DIM] [KINDS]   (run through bench/vector)
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

import hnswlib  # noqa: E402

OUT, SIZES = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
DIM = int(sys.argv[3]) if len(sys.argv) > 3 else 384
KINDS = sys.argv[4].split(",") if len(sys.argv) > 4 else ["random", "clustered"]
BIN = os.environ.get("TRIPLEGATE_BENCH_BIN", ".build/release/triplegate-bench")
M, EF_CONSTRUCTION, K, QUERIES = 16, 200, 10, 1000
EFS = [10, 20, 40, 80, 160, 320, 640]


def data(kind, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.standard_normal((n, DIM), dtype=np.float32)
    # Clustered: points around 1,000 centres, as embeddings of related questions are.
    centres = rng.standard_normal((1000, DIM), dtype=np.float32)
    return centres[rng.integers(0, 1000, n)] + 0.35 * rng.standard_normal((n, DIM), dtype=np.float32)


def normalized(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def truth(base, queries):
    """The exact top 100 by cosine, by brute force in blocks."""
    b, q = normalized(base), normalized(queries)
    top = np.zeros((len(q), 100), dtype=np.int32)
    for i in range(0, len(q), 100):
        sims = q[i:i + 100] @ b.T
        part = np.argpartition(-sims, 100, axis=1)[:, :100]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
        top[i:i + 100] = np.take_along_axis(part, order, axis=1)
    return top


def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values, f):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * f))]


def bench_hnswlib(base, queries, top):
    before = rss_kib()
    index = hnswlib.Index(space="cosine", dim=DIM)
    index.init_index(max_elements=len(base), ef_construction=EF_CONSTRUCTION, M=M, random_seed=42)
    index.set_num_threads(1)
    t = time.perf_counter()
    index.add_items(base, np.arange(len(base)))
    build = time.perf_counter() - t
    memory = rss_kib() - before
    runs = []
    for ef in EFS:
        index.set_ef(ef)
        # Throughput without Python's per-call cost: one batched call on one thread.
        t = time.perf_counter()
        labels, _ = index.knn_query(queries, k=K, num_threads=1)
        qps = len(queries) / (time.perf_counter() - t)
        latencies = []
        for q in queries:
            t = time.perf_counter()
            index.knn_query(q, k=K, num_threads=1)
            latencies.append((time.perf_counter() - t) * 1e6)
        recall = np.mean([len(set(labels[i]) & set(top[i, :K])) / K for i in range(len(queries))])
        runs.append({"ef": ef, "recall": float(recall), "p50_us": percentile(latencies, 0.5), "p99_us": percentile(latencies, 0.99), "qps": qps})
    return {"build_s": build, "rss_delta_kib": memory, "runs": runs}


def bench_brute(base, queries):
    b, q = normalized(base), normalized(queries[:100])
    latencies = []
    for v in q:
        t = time.perf_counter()
        sims = b @ v
        np.argpartition(-sims, K)[:K]
        latencies.append((time.perf_counter() - t) * 1e6)
    return {"p50_us": percentile(latencies, 0.5), "p99_us": percentile(latencies, 0.99), "qps": 1e6 / statistics.mean(latencies)}


def bench_ours(paths, storage="float32"):
    out = subprocess.run([BIN, "vector", "--base", paths[0], "--queries", paths[1], "--truth", paths[2], "--dim", str(DIM),
                          "--m", str(M), "--ef-construction", str(EF_CONSTRUCTION), "--ef", ",".join(map(str, EFS)),
                          "--storage", storage], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def at_recall(runs, target):
    """The first run (smallest ef) whose recall reaches the target."""
    return next((r for r in runs if r["recall"] >= target), None)


results = []
for n in SIZES:
    for kind in KINDS:
        base = data(kind, n, seed=n)
        queries = data(kind, QUERIES, seed=n + 1) if kind == "random" else data(kind, n + QUERIES, seed=n)[n:]
        top = truth(base, queries)
        paths = [f"{OUT}/{kind}-{n}-base.f32", f"{OUT}/{kind}-{n}-queries.f32", f"{OUT}/{kind}-{n}-truth.i32"]
        base.tofile(paths[0])
        queries.tofile(paths[1])
        top.tofile(paths[2])
        row = {"n": n, "kind": kind, "ours": bench_ours(paths), "hnswlib": bench_hnswlib(base, queries, top), "brute": bench_brute(base, queries)}
        if os.environ.get("INT8"):
            row["ours_int8"] = bench_ours(paths, "int8")
        results.append(row)
        for p in paths:
            os.remove(p)
        print(json.dumps(row), flush=True)

json.dump(results, open(f"{OUT}/results.json", "w"), indent=1)
print()
print(f"{'data':<18}{'index':<10}{'build s':>9}{'mem MiB':>9}   ef  recall@10  p50 µs  p99 µs       qps")
for r in results:
    for name in ["ours", "ours_int8", "hnswlib"]:
        if name not in r:
            continue
        x = r[name]
        # Ours reports the bytes it holds; hnswlib's is the process's growth while it builds.
        mem = x["index_bytes"] / 2**20 if "index_bytes" in x else x["rss_delta_kib"] / 1024
        for run in x["runs"]:
            print(f"{r['kind'] + ' ' + str(r['n']):<18}{name:<10}{x['build_s']:>9.1f}{mem:>9.0f}{run['ef']:>5}{run['recall']:>11.4f}"
                  f"{run['p50_us']:>8.0f}{run['p99_us']:>8.0f}{run['qps']:>10.0f}")
    b = r["brute"]
    print(f"{r['kind'] + ' ' + str(r['n']):<18}{'brute':<10}{'':>9}{'':>9}{'':>5}{1:>11.4f}{b['p50_us']:>8.0f}{b['p99_us']:>8.0f}{b['qps']:>10.0f}")
print()
for r in results:
    for target in [0.9, 0.95, 0.99]:
        o, h = at_recall(r["ours"]["runs"], target), at_recall(r["hnswlib"]["runs"], target)
        if o and h:
            print(f"{r['kind']} {r['n']}: recall@10 >= {target}: ours ef {o['ef']} {o['qps']:.0f} q/s p99 {o['p99_us']:.0f} µs, "
                  f"hnswlib ef {h['ef']} {h['qps']:.0f} q/s p99 {h['p99_us']:.0f} µs: ours/hnswlib = {o['qps'] / h['qps']:.2f}x")
        else:
            print(f"{r['kind']} {r['n']}: recall@10 >= {target}: not reached by {'ours' if not o else 'hnswlib'} up to ef {EFS[-1]}")
