#!/usr/bin/python3
"""Write path through the JetStream log vs the direct path (issue 16), same machine, same run.

One shard x 2 replicas (`vecscale serve --cluster --nats`), a 3-node NATS cluster (R=3
streams) and etcd on loopback; two routers on the same cluster: one with --nats (writes
published, answered once JetStream stored them), one without (writes sent to both replicas,
answered once both stored them). Adds of BATCH vectors of dim 32 are sent in rounds that
interleave the three kinds (direct, log, log + "wait": "applied"), so all three see the same
load; then each kind runs alone with THREADS concurrent clients for SECONDS to compare
throughput. Prints p50/p99 latency and adds/s per kind and the ratios.

The direct path was removed after these measurements (a router now needs --nats): this
script runs against a build of commit 6aff574 or earlier (bench/RESULTS_log.md).

Usage: bench/log_vs_direct.py VECSCALE [ROUNDS=300] [BATCH=10] [THREADS=4] [SECONDS=5]
                              [--shards N] [--log-binary NAME=PATH ...]
--shards N: N shards x 2 replicas (default 1). --log-binary NAME=PATH adds a log router run
from another build (say, the commit before a change) on the same cluster as kind "log:NAME",
interleaved with the others like them: a paired before/after in one run."""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ARGS, EXTRA, SHARDS = [], {}, 1
_a = sys.argv[1:]
while _a:
    x = _a.pop(0)
    if x == "--log-binary":
        name, path = _a.pop(0).split("=", 1)
        EXTRA[name] = path
    elif x == "--shards":
        SHARDS = int(_a.pop(0))
    else:
        ARGS.append(x)
VS = ARGS[0]
ROUNDS = int(ARGS[1]) if len(ARGS) > 1 else 300
BATCH = int(ARGS[2]) if len(ARGS) > 2 else 10
THREADS = int(ARGS[3]) if len(ARGS) > 3 else 4
SECONDS = float(ARGS[4]) if len(ARGS) > 4 else 5.0
D = 32
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(SRC, "tests", "integration")
T = tempfile.mkdtemp(prefix="vs-logbench-")
procs = []


def env_of(script, d, key):
    out = subprocess.run([os.path.join(FIX, script), "start", d], check=True, capture_output=True, text=True).stdout
    return [l.split("=", 1)[1] for l in out.splitlines() if l.startswith(key + "=")][0]


def wait_port(path):
    for _ in range(300):
        if os.path.exists(path):
            with open(path) as f:
                return int(f.read())
        time.sleep(0.05)
    raise SystemExit("no " + path)


def post(url, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


LOAD0 = os.getloadavg()[0]
try:
    nats = env_of("nats.sh", os.path.join(T, "nats"), "NATS_URL")
    etcd = env_of("etcd.sh", os.path.join(T, "etcd"), "ETCD_ENDPOINT")
    names = ["r%d" % i for i in range(2 * SHARDS)]
    subprocess.run([VS, "cluster", "init", "--etcd", etcd, "--shards", str(SHARDS), "--replicas", "2", "--nodes",
                    ",".join(names), "--metric", "l2"], check=True, stdout=subprocess.DEVNULL)
    nodes = []
    for n in names:
        pf = os.path.join(T, n + ".port")
        procs.append(subprocess.Popen([VS, "serve", "--data", os.path.join(T, n), "--port", "0", "--port-file", pf,
                                       "--cluster", etcd, "--node-id", n, "--nats", nats, "--quiet"],
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(T, n + ".log"), "w")))
        nodes.append("http://127.0.0.1:%d" % wait_port(pf))
    routers = {}
    for name, binary, extra in [("log", VS, ["--nats", nats]), ("direct", VS, [])] + \
            [("log:" + k, v, ["--nats", nats]) for k, v in EXTRA.items()]:
        pf = os.path.join(T, name + ".port")
        procs.append(subprocess.Popen([binary, "route", "--cluster", etcd, "--port", "0", "--port-file", pf, "--quiet"] + extra,
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(T, name + ".log"), "w")))
        routers[name] = "http://127.0.0.1:%d" % wait_port(pf)
    time.sleep(1.0)  # both routers read the map and the live nodes
    spec = {"dimension": D, "metric": "l2", "index": "Flat"}
    post(routers["log"], "/collections", dict(spec, name="bl"))
    for k in EXTRA:  # a collection each: the routers' id counters in etcd stay apart
        post(routers["log:" + k], "/collections", dict(spec, name="bl_" + k))
    for u in nodes:
        post(u, "/collections", dict(spec, name="bd"))
    time.sleep(1.5)  # the replicas found the new stream and applied its creation
    rng = random.Random(5)
    next_id = [0]
    lock = threading.Lock()

    def body(extra=None):
        with lock:
            ids = list(range(next_id[0], next_id[0] + BATCH))
            next_id[0] += BATCH
        b = {"vectors": [[rng.uniform(-1, 1) for _ in range(D)] for _ in ids], "ids": ids}
        b.update(extra or {})
        return b

    kinds = {"direct": (routers["direct"], "/collections/bd/vectors", None),
             "log": (routers["log"], "/collections/bl/vectors", None),
             "log+applied": (routers["log"], "/collections/bl/vectors", {"wait": "applied"})}
    for k in EXTRA:
        kinds["log:" + k] = (routers["log:" + k], "/collections/bl_%s/vectors" % k, None)
    lat = {k: [] for k in kinds}
    for _ in range(20):  # warm-up
        for k, (u, p, e) in kinds.items():
            post(u, p, body(e))
    for _ in range(ROUNDS):
        order = list(kinds)
        rng.shuffle(order)
        for k in order:
            u, p, e = kinds[k]
            b = body(e)
            t0 = time.perf_counter()
            reply = post(u, p, b)
            lat[k].append((time.perf_counter() - t0) * 1e3)
            if k == "log+applied" and reply.get("applied") is not True:
                raise SystemExit("wait: applied not reached: %s" % reply)
    # Throughput: the kinds take turns in 5 slices each, so a change in the machine's load
    # (shared, 2 cores) hits all of them alike.
    done = {k: 0 for k in kinds}
    spent = {k: 0.0 for k in kinds}
    for _ in range(5):
        for k, (u, p, e) in kinds.items():
            stop = time.monotonic() + SECONDS / 5

            def client():
                while time.monotonic() < stop:
                    post(u, p, body(e))
                    with lock:
                        done[k] += 1

            ts = [threading.Thread(target=client) for _ in range(THREADS)]
            t0 = time.monotonic()
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            spent[k] += time.monotonic() - t0
    tput = {k: done[k] * BATCH / spent[k] for k in kinds}
    print("write path, %d shard(s) x 2 replicas, NATS R=3," % SHARDS + " %d-vector adds of dim %d, %d interleaved rounds; "
          "throughput with %d clients, %.0f s each in 5 alternating slices (loopback, load avg %.0f at the start, %.0f at the end, %s)" % (
              BATCH, D, ROUNDS, THREADS, SECONDS, LOAD0, os.getloadavg()[0], time.strftime("%Y-%m-%d")))
    print("%-12s %9s %9s %14s" % ("path", "p50 ms", "p99 ms", "vectors/s"))
    for k in kinds:
        print("%-12s %9.2f %9.2f %14.0f" % (k, pct(lat[k], 50), pct(lat[k], 99), tput[k]))
    print("log / direct throughput: %.2fx; added p50 latency: log %+.2f ms, log+applied %+.2f ms" % (
        tput["log"] / tput["direct"], pct(lat["log"], 50) - pct(lat["direct"], 50),
        pct(lat["log+applied"], 50) - pct(lat["direct"], 50)))
    for k in EXTRA:
        print("log / log:%s throughput: %.2fx; p50 latency log / log:%s: %.2fx" % (
            k, tput["log"] / tput["log:" + k], k, pct(lat["log"], 50) / pct(lat["log:" + k], 50)))
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    subprocess.run([os.path.join(FIX, "nats.sh"), "stop", os.path.join(T, "nats")])
    subprocess.run([os.path.join(FIX, "etcd.sh"), "stop", os.path.join(T, "etcd")])
    shutil.rmtree(T, ignore_errors=True)
