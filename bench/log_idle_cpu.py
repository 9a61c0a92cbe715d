#!/usr/bin/python3
"""Idle CPU of two replicas of one shard side by side (BEFORE and AFTER builds), each following 5
collection streams that get no writes: CPU seconds from /proc over SECONDS (default 30).

Usage: bench/log_idle_cpu.py BEFORE_VECSCALE AFTER_VECSCALE [SECONDS]"""
import json, os, shutil, subprocess, sys, tempfile, time, urllib.request
FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "integration")
T = tempfile.mkdtemp(prefix="vs-idlecpu-")
BEFORE, AFTER = sys.argv[1], sys.argv[2]
def env_of(script, d, key):
    out = subprocess.run([os.path.join(FIX, script), "start", d], check=True, capture_output=True, text=True).stdout
    return [l.split("=", 1)[1] for l in out.splitlines() if l.startswith(key + "=")][0]
def wait_port(p):
    for _ in range(300):
        if os.path.exists(p): return int(open(p).read())
        time.sleep(0.05)
def post(u, p, b):
    r = urllib.request.Request(u + p, data=json.dumps(b).encode(), method="POST", headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(r, timeout=30).read())
procs = []
try:
    nats = env_of("nats.sh", T + "/nats", "NATS_URL"); etcd = env_of("etcd.sh", T + "/etcd", "ETCD_ENDPOINT")
    subprocess.run([AFTER, "cluster", "init", "--etcd", etcd, "--shards", "1", "--replicas", "2", "--nodes", "rb,ra", "--metric", "l2"], check=True, stdout=subprocess.DEVNULL)
    pids = {}
    for n, b in (("rb", BEFORE), ("ra", AFTER)):
        p = subprocess.Popen([b, "serve", "--data", T + "/" + n, "--port", "0", "--port-file", T + "/" + n + ".port", "--cluster", etcd, "--node-id", n, "--nats", nats, "--quiet"], stdout=subprocess.DEVNULL, stderr=open(T + "/" + n + ".log", "w"))
        procs.append(p); pids[n] = p.pid; wait_port(T + "/" + n + ".port")
    rp = subprocess.Popen([AFTER, "route", "--cluster", etcd, "--port", "0", "--port-file", T + "/router.port", "--nats", nats, "--quiet"], stdout=subprocess.DEVNULL, stderr=open(T + "/router.log", "w"))
    procs.append(rp); R = "http://127.0.0.1:%d" % wait_port(T + "/router.port"); time.sleep(1.5)
    for i in range(5):
        post(R, "/collections", {"name": "c%d" % i, "dimension": 4, "metric": "l2", "index": "Flat"})
    time.sleep(3)
    def cpu(pid):
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    c0 = {n: cpu(p) for n, p in pids.items()}; t0 = time.monotonic(); time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 30)
    dt = time.monotonic() - t0
    for n, p in pids.items():
        print("%s (%s): %.3f s CPU in %.0f s idle, following 5 streams = %.2f%% of a core" % (n, "before" if n == "rb" else "after", cpu(p) - c0[n], dt, 100 * (cpu(p) - c0[n]) / dt))
    print("load avg %.0f" % os.getloadavg()[0])
finally:
    for p in procs: p.terminate()
    for p in procs: p.wait(timeout=10)
    subprocess.run([FIX + "/nats.sh", "stop", T + "/nats"]); subprocess.run([FIX + "/etcd.sh", "stop", T + "/etcd"])
    shutil.rmtree(T, ignore_errors=True)
