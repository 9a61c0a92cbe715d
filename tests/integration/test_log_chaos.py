#!/usr/bin/python3
"""The cluster's write path on the replicated log under failures (issue 16, "must show"): two
`vecscale route --nats` routers take a continuous stream of adds and deletes for a 2-shard x
2-replica cluster while, at random moments, one router, one replica of every shard and one
NATS node are killed with -9 (each at least 5 times) and restarted. A client retries a write
that got no answer with the same request_id, through the other router, until it is
acknowledged. Afterwards every replica of every shard holds exactly the acknowledged state:
the same ids and count as the acknowledged writes give its shard, no deleted id, and the
brute-force top 5 of the shard's documents for 100 fixed queries; the routers' merged search
equals the brute-force top 5 over everything.

Usage: test_log_chaos.py VECSCALE LOG_PUB SCRATCH [SECONDS]  (env: VS_NATS_ENV_FILE, VS_NATS_SH,
VS_NATS_DIR from the nats fixture). Loopback only; bounded by SECONDS of chaos (default 30)."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

VS, LOG_PUB, T = sys.argv[1], sys.argv[2], sys.argv[3]
CHAOS_S = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
HERE = os.path.dirname(os.path.abspath(__file__))
NATS_SH, NATS_DIR = os.environ["VS_NATS_SH"], os.environ["VS_NATS_DIR"]
with open(os.environ["VS_NATS_ENV_FILE"]) as f:
    NATS = [line.split("=", 1)[1].strip() for line in f if line.startswith("NATS_URL=")][0]
D, SHARDS = 8, 2
COLL = "chaos%d" % os.getpid()
rng = random.Random(1616)

shutil.rmtree(T, ignore_errors=True)
os.makedirs(T)
etcd_dir = os.path.join(T, "etcd")
out = subprocess.run([os.path.join(HERE, "etcd.sh"), "start", etcd_dir], check=True, capture_output=True, text=True)
ETCD = [line.split("=", 1)[1] for line in out.stdout.splitlines() if line.startswith("ETCD_ENDPOINT=")][0]
NODES = ["r0", "r1", "r2", "r3"]  # shard 0: r0 r1, shard 1: r2 r3
servers, routers = {}, {}
nats_down = []


def start_node(node):
    servers[node] = Server(VS, os.path.join(T, node), "--cluster", ETCD, "--node-id", node, "--ttl", "1",
                           "--nats", NATS, log=os.path.join(T, node + ".log"))


class Router:
    def __init__(self, name):
        self.port_file = os.path.join(T, name + ".port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        with open(os.path.join(T, name + ".log"), "ab") as log:
            # (a killed replica is refused at once: the attempt timeout only has to outlast a
            # slow answer, up to 1.9 s under ASan on a loaded machine, see test_cluster.sh)
            self.proc = subprocess.Popen([VS, "route", "--cluster", ETCD, "--port", "0", "--port-file", self.port_file,
                                          "--nats", NATS, "--attempt-timeout", "4000", "--request-timeout", "9000"],
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("router %s did not start" % name)
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())


def call(url, method, path, body=None, timeout=20):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode() or "null")
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text
    except (OSError, ValueError) as e:  # refused, reset, timed out: no answer
        return None, str(e)


def shard_of(i):
    """vs_shard_of (splitmix64 finaliser, then modulo), as the router routes ids."""
    z = (i + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) % SHARDS


lock = threading.Lock()
acked, deleted = {}, set()
stats = {"writes": 0, "retries": 0, "kills": {"router": 0, "replica": 0, "nats": 0}}


def diagnose(why):
    """Prints what a stuck write needs to be explained: each replica's applied log position
    against its shard's stream, each NATS node's view of the stream and of every replica's
    durable consumer (delivered, acknowledged, pending, Raft leader and which peers are
    current), and the log lines of the replicas' appliers."""
    print("--- diagnostics: %s" % why, flush=True)
    for n in NODES:
        srv = servers.get(n)
        try:
            st, reply = (None, "not started") if srv is None else srv.request("GET", "/collections/" + COLL, timeout=5)
        except OSError as e:  # refused or timed out: the replica is down or wedged
            st, reply = None, "no answer (%s)" % e
        pos = reply.get("log_position", 0) if st == 200 and isinstance(reply, dict) else reply
        print("replica %s (shard %d): applied log position %s, %s documents" % (
            n, NODES.index(n) // 2, pos, reply.get("total_vectors") if isinstance(reply, dict) else "?"))
    for i in (1, 2, 3):
        try:
            with open(os.path.join(NATS_DIR, "n%d" % i, "mon_port")) as f:
                mon = f.read().strip()
            with urllib.request.urlopen("http://127.0.0.1:%s/jsz?streams=true&consumers=true" % mon, timeout=5) as resp:
                jsz = json.loads(resp.read().decode())
        except (OSError, ValueError) as e:
            print("NATS node n%d: no answer (%s)" % (i, e))
            continue
        print("NATS node n%d: meta leader %s" % (i, jsz.get("meta_cluster", {}).get("leader")))
        for acc in jsz.get("account_details", []):
            for st in acc.get("stream_detail", []):
                if not st["name"].startswith("vs-%s-" % COLL):
                    continue
                cl = st.get("cluster", {})
                print("  stream %s: sequences %s..%s, leader %s" % (st["name"], st["state"]["first_seq"], st["state"]["last_seq"],
                                                                   cl.get("leader")))
                for c in st.get("consumer_detail") or []:
                    cc = c.get("cluster", {})
                    print("    consumer %s: delivered %s, ack floor %s, pending %s, ack pending %s, waiting pulls %s, "
                          "leader %s, peers current %s" % (
                              c["name"], c["delivered"]["stream_seq"], c["ack_floor"]["stream_seq"], c["num_pending"],
                              c["num_ack_pending"], c.get("num_waiting"), cc.get("leader"),
                              {r["name"]: r.get("current") for r in cc.get("replicas", [])}))
    for n in NODES:
        try:
            with open(os.path.join(T, n + ".log"), errors="replace") as f:
                lines = [ln.rstrip() for ln in f if " log: " in ln]
        except OSError:
            lines = []
        print("%s log: %d applier line(s)%s" % (n, len(lines), "".join("\n  " + ln for ln in lines[-8:])))
    print("--- end of diagnostics", flush=True)


def write(method, path, body, budget_s=120.0, timeout=20.0):
    """Sends until acknowledged (200/201), alternating routers, for at most budget_s; returns
    the reply. Each try waits at most `timeout` for the answer."""
    tries = 0
    deadline = time.monotonic() + budget_s
    while True:
        names = sorted(routers)
        r = routers[names[(stats["writes"] + tries) % len(names)]]
        st, reply = call(r.url, method, path, body, timeout=timeout)
        # a retried DELETE whose lost try was applied finds nothing to delete: 404, as on one server
        if st in (200, 201) or (st == 404 and method == "DELETE" and tries):
            if tries:
                stats["retries"] += tries
            return reply
        if st is not None and st < 500:
            raise AssertionError("%s %s refused with %s: %s" % (method, path, st, reply))
        tries += 1
        if time.monotonic() > deadline:
            diagnose("%s %s not acknowledged in %.0f s" % (method, path, budget_s))
            raise AssertionError("%s %s never acknowledged in %.0f s (%d tries): %s %s" % (method, path, budget_s, tries,
                                                                                          st, reply))
        time.sleep(0.05)


def chaos():
    events = ["router"] * 5 + ["replica"] * 5 + ["nats"] * 5
    rng.shuffle(events)
    gap = CHAOS_S / len(events)
    for ev in events:
        time.sleep(rng.uniform(0.2, gap))
        if ev == "router":
            name = rng.choice(sorted(routers))
            routers[name].proc.kill()
            routers[name].proc.wait()
            time.sleep(rng.uniform(0.1, 0.5))
            routers[name] = Router(name)
        elif ev == "replica":  # one replica of every shard
            victims = [rng.choice(["r0", "r1"]), rng.choice(["r2", "r3"])]
            for v in victims:
                servers[v].stop(signal.SIGKILL)
            time.sleep(rng.uniform(0.2, 1.0))
            for v in victims:
                start_node(v)
        else:
            n = rng.randint(1, 3)
            subprocess.run([NATS_SH, "kill", NATS_DIR, str(n)], check=True)
            nats_down.append(n)
            time.sleep(rng.uniform(0.2, 1.0))
            subprocess.run([NATS_SH, "restart", NATS_DIR, str(n)], check=True)
            nats_down.remove(n)
        stats["kills"][ev] += 1


def l2(a, b):
    return sum((x - y) * (x - y) for x, y in zip(a, b))


def top5(v, docs):
    return [i for _, i in sorted((l2(v, x), i) for i, x in docs.items())[:5]]


try:
    subprocess.run([VS, "cluster", "init", "--etcd", ETCD, "--shards", str(SHARDS), "--replicas", "2", "--nodes",
                    ",".join(NODES), "--metric", "l2"], check=True, stdout=subprocess.DEVNULL)
    for n in NODES:
        start_node(n)
    routers["A"], routers["B"] = Router("A"), Router("B")
    deadline = time.monotonic() + 60
    while call(routers["A"].url, "GET", "/cluster")[1].__str__().count("'live': True") < 4:
        if time.monotonic() > deadline:
            raise AssertionError("4 replicas did not register")
        time.sleep(0.1)
    write("POST", "/collections", {"name": COLL, "dimension": D, "metric": "l2", "index": "Flat", "request_id": "create"})

    t = threading.Thread(target=chaos)
    t.start()
    next_id = 0
    t0 = time.monotonic()
    while t.is_alive():
        time.sleep(0.01)  # a steady stream, not a flood: the checks below read every document
        stats["writes"] += 1
        if acked and rng.random() < 0.25:
            victim = rng.choice(sorted(acked))
            write("DELETE", "/collections/%s/documents/%d" % (COLL, victim), None)
            del acked[victim]
            deleted.add(victim)
        else:
            ids = list(range(next_id, next_id + 4))
            next_id += 4
            vecs = [[round(rng.uniform(-1, 1), 4) for _ in range(D)] for _ in ids]
            write("POST", "/collections/%s/vectors" % COLL,
                  {"vectors": vecs, "ids": ids, "request_id": "add-%d" % ids[0]})
            acked.update(zip(ids, vecs))
    t.join()
    print("chaos: %d writes in %.1f s (%d retried tries), kills %s; %d documents, %d deleted" % (
        stats["writes"], time.monotonic() - t0, stats["retries"], stats["kills"], len(acked), len(deleted)), flush=True)
    check(all(v >= 5 for v in stats["kills"].values()), "each of router, replica, NATS node killed at least 5 times",
          stats["kills"])

    # Every replica back and registered, then one write per shard that waits until every
    # replica applied it: all earlier sequences are applied too (streams apply in order).
    deadline = time.monotonic() + 60
    while str(call(routers["A"].url, "GET", "/cluster")[1]).count("'live': True") < 4:
        if time.monotonic() > deadline:
            diagnose("replicas not all back")
            raise AssertionError("replicas did not come back: %s" % (call(routers["A"].url, "GET", "/cluster"),))
        time.sleep(0.1)
    # Ids on every shard (4 consecutive ids all fell on one shard at times: the other shard's
    # replicas were then never waited for).
    fin, i = [], next_id
    while any(sum(shard_of(x) == s for x in fin) < 2 for s in range(SHARDS)):
        fin.append(i)
        i += 1
    vecs = [[0.0] * D for _ in fin]
    # The router answers by WAIT_S at the latest ("applied": false then); the client waits
    # longer than that, so a write that cannot be applied is a failure that says why, not a
    # client timeout retried until ctest kills the test.
    WAIT_S = 100
    t_fin = time.monotonic()
    reply = write("POST", "/collections/%s/vectors" % COLL, {"vectors": vecs, "ids": fin, "request_id": "final",
                                                            "wait": "applied", "wait_timeout_ms": WAIT_S * 1000},
                  budget_s=WAIT_S + 60, timeout=WAIT_S + 30)
    if reply.get("applied") is not True:
        diagnose("the last write was not applied by every replica in %d s" % WAIT_S)
    check(reply.get("applied") is True, "a last write waited until every replica applied it (%.1f s)" % (
        time.monotonic() - t_fin), reply)
    acked.update(zip(fin, vecs))
    # "applied" covers the replicas the router saw live while it waited: one whose lease (ttl
    # 1 s) lapsed for a moment under load was not waited for. Every replica's own position
    # must reach its shard's last sequence before its documents are counted.
    last_seq = {p["shard"]: p["sequence"] for p in reply["stored"]}
    check(sorted(last_seq) == list(range(SHARDS)), "the last write went to every shard", reply["stored"])

    def position(n):
        st, r = servers[n].request("GET", "/collections/" + COLL)
        return r.get("log_position", 0) if st == 200 and isinstance(r, dict) else 0

    deadline = time.monotonic() + 60
    behind = NODES
    while behind and time.monotonic() < deadline:
        behind = [n for n in NODES if position(n) < last_seq[NODES.index(n) // 2]]
        if behind:
            time.sleep(0.1)
    if behind:
        diagnose("replicas %s behind the last write's sequences %s" % (behind, last_seq))
    check(not behind, "every replica applied its shard's stream to the last write %s" % last_seq, behind)

    by_shard = [{i: v for i, v in acked.items() if shard_of(i) == s} for s in range(SHARDS)]
    for s, pair in ((0, ["r0", "r1"]), (1, ["r2", "r3"])):
        want = by_shard[s]
        for n in pair:
            st = servers[n].ok("GET", "/collections/" + COLL)
            check(st["total_vectors"] == len(want), "%s (shard %d) holds the %d acknowledged documents" % (n, s, len(want)),
                  st)
            missing = [i for i in want if servers[n].request("GET", "/collections/%s/documents/%d" % (COLL, i))[0] != 200]
            check(not missing, "%s has every acknowledged id of shard %d" % (n, s), missing[:10])
            back = [i for i in deleted if shard_of(i) == s and
                    servers[n].request("GET", "/collections/%s/documents/%d" % (COLL, i))[0] != 404]
            check(not back, "%s: none of the deleted ids of shard %d came back" % (n, s), back[:10])
        qrng = random.Random(7)
        bad = 0
        for q in range(100):
            v = [qrng.uniform(-1, 1) for _ in range(D)]
            expect = top5(v, want)
            for n in pair:
                got = [h["id"] for h in servers[n].ok("POST", "/collections/%s/search" % COLL, {"vector": v, "k": 5})["results"]]
                bad += got != expect
        check(bad == 0, "shard %d: 100 queries give the brute-force top 5 on both replicas" % s, bad)
    qrng = random.Random(8)
    bad = 0
    for q in range(100):
        v = [qrng.uniform(-1, 1) for _ in range(D)]
        st, reply = call(routers["B"].url, "POST", "/collections/%s/search" % COLL, {"vector": v, "k": 5})
        bad += st != 200 or [h["id"] for h in reply["results"]] != top5(v, acked)
    check(bad == 0, "100 queries through a router give the brute-force top 5 over all shards", bad)
finally:
    for n in list(nats_down):
        subprocess.run([NATS_SH, "restart", NATS_DIR, str(n)])
    for r in routers.values():
        r.proc.terminate()
        try:
            r.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            r.proc.kill()
    for s in servers.values():
        s.stop()
    subprocess.run([LOG_PUB, NATS, COLL, str(SHARDS), "delete"])  # other tests' nodes follow every stream
    subprocess.run([os.path.join(HERE, "etcd.sh"), "stop", etcd_dir])
