#!/usr/bin/python3
"""A replica restored from a snapshot replays only the stream's tail (issue 16): r0 follows
its shard's stream, saves (publishing the shard to S3 with the applied stream sequence P in
its collections), more writes arrive, then r1 starts with an empty data directory and the
same --snapshot-uri: it restores the snapshot, resumes its stream at P + 1 (with applying
slowed to 20 ms a message, a replay from the start could not be at P on its first answer),
and ends with exactly r0's state.

Retention (src/log/retention.h, --log-keep 0 here): r1 first follows the stream to Q and stops,
so its durable consumer holds the stream at Q when r0's save covers P > Q (the trim keeps Q + 1
on); once both replicas applied L, a second save trims the stream to nothing below L + 1.

Usage: test_log_snapshot.py VECSCALE LOG_PUB SCRATCH  (env: the nats fixture's VS_NATS_ENV_FILE,
VS_NATS_SH, VS_NATS_DIR; the radosgw fixture's VS_S3_ENV_FILE)"""
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

VS, LOG_PUB, T = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.environ["VS_NATS_ENV_FILE"]) as f:
    NATS = [line.split("=", 1)[1].strip() for line in f if line.startswith("NATS_URL=")][0]
with open(os.environ["VS_S3_ENV_FILE"]) as f:
    for line in f:
        if "=" in line:
            k, v = line.strip().split("=", 1)
            os.environ[k] = v.strip("'\"")
os.environ["AWS_ENDPOINT_URL"] = os.environ["S3_ENDPOINT"]
D = 8
COLL = "ls%d" % os.getpid()
URI = "s3://vs-test-log/%s-%d" % (COLL, int(time.time()))
rng = random.Random(3)

shutil.rmtree(T, ignore_errors=True)
os.makedirs(os.path.join(T, "seed"))
with open(os.path.join(T, "seed", "f"), "w") as f:
    f.write("seed")
subprocess.run([VS, "snapshot", "push", os.path.join(T, "seed"), URI + "-seed", "--create-bucket"], check=True,
               stdout=subprocess.DEVNULL)
etcd_dir = os.path.join(T, "etcd")
out = subprocess.run([os.path.join(HERE, "etcd.sh"), "start", etcd_dir], check=True, capture_output=True, text=True)
ETCD = [line.split("=", 1)[1] for line in out.stdout.splitlines() if line.startswith("ETCD_ENDPOINT=")][0]
servers = {}
pub = None


def start(node):
    servers[node] = Server(VS, os.path.join(T, node), "--cluster", ETCD, "--node-id", node, "--ttl", "2", "--nats", NATS,
                           "--snapshot-uri", URI, "--log-keep", "0", log=os.path.join(T, node + ".log"))


def publish(op, msg_id, body):
    pub.stdin.write("%s 0 %s %s\n" % (op, msg_id, body))
    pub.stdin.flush()
    line = pub.stdout.readline()
    if not line:
        raise AssertionError("log_pub ended: " + pub.stderr.read())
    return int(line.split()[0])


def position(node):
    st, reply = servers[node].request("GET", "/collections/" + COLL)
    return reply.get("log_position", 0) if st == 200 else -1


def wait_position(node, seq):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and position(node) < seq:
        time.sleep(0.1)
    return position(node) >= seq


expected, deleted, next_id = {}, set(), 0


def adds(batches):
    global next_id
    last = 0
    for _ in range(batches):
        ids = list(range(next_id, next_id + 5))
        next_id += 5
        vecs = [[round(rng.uniform(-1, 1), 4) for _ in range(D)] for _ in ids]
        last = publish("vectors", "vectors:%d:s" % ids[0], ('{"vectors":%s,"ids":%s}' % (vecs, ids)).replace(" ", ""))
        expected.update(zip(ids, vecs))
        if rng.random() < 0.3:
            victim = rng.choice(sorted(expected))
            last = publish("delete", "delete:%d:s" % victim, str(victim))
            del expected[victim]
            deleted.add(victim)
    return last


try:
    subprocess.run([VS, "cluster", "init", "--etcd", ETCD, "--shards", "1", "--replicas", "2", "--nodes", "r0,r1",
                    "--metric", "l2"], check=True, stdout=subprocess.DEVNULL)
    start("r0")
    pub = subprocess.Popen([LOG_PUB, NATS, COLL, "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    publish("create", "create:" + COLL, '{"name":"%s","dimension":%d,"metric":"l2","index":"Flat"}' % (COLL, D))
    start("r1")
    Q = adds(40)
    check(wait_position("r1", Q), "r1 applied the stream to %d" % Q)
    servers.pop("r1").stop()  # its durable consumer stays, acknowledged to Q
    P = adds(80)
    check(wait_position("r0", P), "r0 applied the stream to %d" % P)
    save = servers["r0"].ok("POST", "/collections/%s/save" % COLL)
    pubd = save.get("published", {})
    check(pubd.get("generation", 0) >= 1, "r0's save published the shard", save)
    log = pubd.get("log", {})
    check(log.get("covered") == P and log.get("acked_floor") == Q and log.get("held_by") == "replica-r1"
          and log.get("first_before") == 1 and log.get("kept_from") == Q + 1,
          "the save trims the stream below %d only: r1's consumer (stopped at %d) still needs the rest" % (Q + 1, Q), pubd)
    L = adds(80)
    check(wait_position("r0", L), "r0 applied the tail to %d" % L)
    shutil.rmtree(os.path.join(T, "r1"))  # wiped while down: it comes back from the snapshot

    # Slowed down so that its first answer comes while it replays the tail (~100 messages,
    # positions recorded per batch of 64): at 20 ms a message that window was ~2 s, which a
    # stall of the test under ASan on a loaded machine can outlast; at 100 ms it is ~10 s.
    os.environ["VECSCALE_TEST_APPLY_DELAY_MS"] = "100"
    start("r1")
    del os.environ["VECSCALE_TEST_APPLY_DELAY_MS"]
    first = position("r1")
    check(P <= first < L, "r1 restored the snapshot at stream sequence %d and replays the tail from there (first "
                          "answer: %d)" % (P, first), first)
    check(wait_position("r1", L), "r1 applied the tail to %d" % L)
    for n in ("r0", "r1"):
        st = servers[n].ok("GET", "/collections/" + COLL)
        check(st["total_vectors"] == len(expected), "%s holds the %d published documents" % (n, len(expected)), st)
        back = [i for i in deleted if servers[n].request("GET", "/collections/%s/documents/%d" % (COLL, i))[0] != 404]
        check(not back, "%s: no deleted id is back" % n, back[:10])
    qrng = random.Random(11)
    same = 0
    for q in range(50):
        v = [qrng.uniform(-1, 1) for _ in range(D)]
        res = [[h["id"] for h in servers[n].ok("POST", "/collections/%s/search" % COLL, {"vector": v, "k": 5})["results"]]
               for n in ("r0", "r1")]
        same += res[0] == res[1]
    check(same == 50, "50 queries give the same top 5 on r0 and r1", same)
    log = servers["r0"].ok("POST", "/collections/%s/save" % COLL).get("published", {}).get("log", {})
    check(log.get("covered") == L and log.get("acked_floor") == L and log.get("consumers") == 2
          and log.get("first_before") == Q + 1 and log.get("kept_from") == L + 1,
          "with both replicas at %d, the next save trims everything the snapshot holds" % L, log)
finally:
    if pub:
        pub.stdin.close()
        pub.wait(timeout=30)
        subprocess.run([LOG_PUB, NATS, COLL, "1", "delete"])  # other tests' nodes follow every stream
    for s in servers.values():
        s.stop()
    subprocess.run([os.path.join(HERE, "etcd.sh"), "stop", etcd_dir])
