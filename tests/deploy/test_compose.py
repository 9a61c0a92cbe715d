#!/usr/bin/python3
"""The deployment of deploy/, run for real in Docker (issue 20): builds the images
(deploy/build-images.sh from the release build), then

 cluster (deploy/vecscale-cluster/docker-compose.yml, writes through a 3-node NATS JetStream
   log): up, every container healthy with a restart policy on the host network; the seed's
   requests through the router: /index with bare lists of texts (ids given by the router,
   published to the shards' streams, embedded by each replica), text and vector searches, GET
   /documents/{id}, /stats (the whole collection, a row per shard) and /save (every node; each
   shard published to S3); one node container killed: searches and /stats through the router
   still answer in full (its peer serves the shard) and /index goes on; the node started again
   holds every acknowledged document (it replays the stream from its position); one NATS
   container killed, writes acknowledged meanwhile, another NATS node killed -9 and restarted by
   Docker: every acknowledged document on both replicas of its shard; a node's and the router's
   process killed -9: Docker restarts them and nothing acknowledged is lost; a node recreated on
   an empty volume comes back from the S3 snapshot plus the stream's tail with every
   acknowledged document; down -v: no container, volume or listening port left.
 one server (deploy/vecscale-single/docker-compose.yml): /index with a bare list of texts, /search,
   /stats, /save (published to S3); the process killed -9 and restarted by Docker with every
   document; the S3 store killed -9 and restarted on its volume; the server's data volume
   deleted: the new server restores the saved snapshot from S3; down -v.

It starts dockerd itself when none answers (and stops it at the end) and fails with the reason
when it cannot. Runs under its own compose project names and free ports, so a deployment
started from deploy/.env is not touched. Usage: test_compose.py SOURCE_DIR BUILD_DIR WORK_DIR
"""
import fcntl
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

SRC, BUILD, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
T0 = time.monotonic()
TAG = "test"
failures = []


def log(msg):
    print("[%6.1f s] %-7s %s" % (time.monotonic() - T0, threading.current_thread().name, msg), flush=True)


def check(cond, what, detail=""):
    if cond:
        log("ok   " + what)
    else:
        log("FAIL " + what + (": " + detail if detail else ""))
        failures.append(what)
        raise AssertionError(what + (": " + detail if detail else ""))


def run(*cmd, env=None, check_rc=True, input=None, timeout=900):
    p = subprocess.run(cmd, cwd=SRC, env=env, input=input, capture_output=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode, p.stdout.decode(errors="replace")[-3000:],
                                                    p.stderr.decode(errors="replace")[-3000:]))
    return p


def http(method, url, body=None, timeout=10):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def wait(what, fn, secs):
    deadline = time.monotonic() + secs
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    check(False, what, "not within %d s (last: %r)" % (secs, last))


def port_free(p):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", p)) != 0


def pick_ports(n_single, n_ranges, width):
    """n_single free ports and n_ranges free ranges of width ports, below the ephemeral range
    and away from the integration fixtures' (radosgw.sh 20000+, etcd.sh 27000+)."""
    base = 12000 + (os.getpid() % 150) * 50
    got, ranges, p = [], [], base
    while len(got) < n_single or len(ranges) < n_ranges:
        if p > 19900:
            p = 12000
        if len(got) < n_single:
            if port_free(p):
                got.append(p)
            p += 1
        elif all(port_free(q) for q in range(p, p + width)):
            ranges.append(p)
            p += width
        else:
            p += width
    return got, ranges


class Project:
    """One compose project: our own name and env file, the deploy/ compose file."""

    def __init__(self, name, compose_file, env):
        self.name, self.file, self.env = name, compose_file, env
        self.vars_checked = False
        # The ports this deployment may bind: those of its env that were free when it was made
        # (pick_ports chose them so). A port the env only inherits from deploy/.env, held by
        # another service on the host (a server on 8000), is not this project's to free.
        self.own_ports = [p for p in self.ports() if port_free(p)]
        self.env_path = os.path.join(WORK, name + ".env")
        with open(self.env_path, "w") as f:
            f.writelines("%s=%s\n" % kv for kv in env.items())

    def compose(self, *args, check_rc=True, timeout=600):
        p = run("docker-compose", "--env-file", self.env_path, "-p", self.name, "-f", self.file, *args,
                check_rc=check_rc, timeout=timeout)
        # An unset variable would silently become "" (a port, a key): deploy/.env must name them all.
        unset = re.findall(rb"The (\w+) variable is not set", p.stderr)
        if unset or not self.vars_checked:
            check(not unset, "every variable %s uses is set by deploy/.env" % self.file, repr(unset))
            self.vars_checked = True
        return p

    def containers(self, all_=True):
        out = run("docker", "ps", "-q" + ("a" if all_ else ""), "--filter",
                  "label=com.docker.compose.project=" + self.name).stdout.split()
        return [c.decode() for c in out]

    def inspect(self, service):
        cid = self.container(service)
        return json.loads(run("docker", "inspect", cid).stdout)[0]

    def container(self, service):
        out = run("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=" + self.name, "--filter",
                  "label=com.docker.compose.service=" + service).stdout.split()
        if len(out) != 1:
            check(False, "one container for %s" % service, repr(out))
        return out[0].decode()

    def health(self, service):
        st = self.inspect(service)["State"]
        return st.get("Health", {}).get("Status", "none") if st["Running"] else "stopped"

    def wait_healthy(self, services, secs):
        def all_healthy():
            states = {s: self.health(s) for s in services}
            return all(v == "healthy" for v in states.values()) or None
        start = time.monotonic()
        deadline = start + secs
        while time.monotonic() < deadline:
            if all_healthy():
                return time.monotonic() - start
            time.sleep(0.5)
        states = {s: self.health(s) for s in services}
        self.dump_logs()
        check(False, "%s healthy" % ", ".join(services), "states after %d s: %r" % (secs, states))

    def dump_logs(self):
        p = self.compose("logs", "--no-color", "--tail", "25", check_rc=False)
        print(p.stdout.decode(errors="replace")[-12000:], flush=True)

    def down(self):
        self.compose("down", "-v", "--remove-orphans", "-t", "20", check_rc=False, timeout=300)
        left = self.containers()
        vols = run("docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=" + self.name).stdout.split()
        ports = [p for p in self.own_ports if not port_free(p)]
        check(not left and not vols and not ports, "down -v of %s leaves no container, volume or listening port"
              % self.name, "containers %r volumes %r ports %r" % (left, vols, ports))

    def ports(self):
        return [int(v) for k, v in self.env.items() if k.endswith("_PORT")]


def base_env():
    """deploy/.env's variables (so a missing one fails the test), ports replaced by free ones."""
    env = {}
    with open(os.path.join(SRC, "deploy", ".env")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v
    env["VECSCALE_IMAGE_TAG"] = TAG
    return env


def embed(texts):
    """Vectors of texts from the image's own `vecscale embed` (fvecs on stdout)."""
    p = run("docker", "run", "--rm", "-i", "--network", "none", "vecscale/vecscale:" + TAG, "embed",
            input=("\n".join(texts) + "\n").encode())
    raw, out, o = p.stdout, [], 0
    while o < len(raw):
        (d,) = struct.unpack_from("<i", raw, o)
        out.append(list(struct.unpack_from("<%df" % d, raw, o + 4)))
        o += 4 + 4 * d
    check(len(out) == len(texts) and all(len(v) == 100 for v in out), "the image embeds %d texts (glove-100-sif, 100-d)" % len(texts))
    return out


WORDS = ("river mountain forest ocean city village music painting science history football garden kitchen "
         "winter summer train airplane doctor teacher market").split()
TRIPLES = [(a, b, c) for a in range(20) for b in range(a + 1, 20) for c in range(b + 1, 20)]


def texts_for(ids):
    # A different set of three words for every id under 1140. (The embedding averages word
    # vectors: word order does not change it, and numbers may be unknown words.)
    return ["%s, %s and %s" % tuple(WORDS[w] for w in TRIPLES[i]) for i in ids]


def kill9_process(proj, service):
    """kill -9 the container's main process from the host: a crash, which the restart policy
    answers (docker kill / stop would count as a manual stop and disable it)."""
    before = proj.inspect(service)
    pid = before["State"]["Pid"]
    if pid <= 0:
        check(False, "%s has a process" % service, repr(before["State"]))
    os.kill(pid, 9)
    wait("%s restarted by Docker after kill -9" % service,
         lambda: (lambda s: s["RestartCount"] > before["RestartCount"] and s["State"]["Running"]
                  and s["State"]["Pid"] != pid)(proj.inspect(service)), 60)
    log("     %s: pid %d killed, restarted (restart count %d)" % (service, pid, proj.inspect(service)["RestartCount"]))


def test_cluster(env):
    proj = Project("vsdeploytest%dc" % os.getpid(), "deploy/vecscale-cluster/docker-compose.yml", env)
    services = ["etcd", "nats1", "nats2", "nats3", "s3", "n0", "n1", "n2", "n3", "router"]
    try:
        t = time.monotonic()
        proj.compose("up", "-d")
        secs = proj.wait_healthy(services, 240)
        log("     cluster up and healthy in %.1f s" % (time.monotonic() - t))
        for s in services:
            i = proj.inspect(s)
            check(i["HostConfig"]["NetworkMode"] == "host" and i["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
                  and i["Config"].get("Healthcheck"), "%s: host network, restart unless-stopped, health check" % s)
        init = proj.inspect("cluster-init")["State"]
        check(not init["Running"] and init["ExitCode"] == 0, "cluster-init wrote the shard map and exited 0")
        R = "http://127.0.0.1:%s" % env["ROUTER_PORT"]
        node = {n: "http://127.0.0.1:%s" % env["NODE%d_PORT" % n] for n in range(4)}
        wait("4 replicas live in the router's view", lambda: live_count(R) == 4, 30)

        # The seed's requests, all through the router: /index with a bare list of texts (the router
        # gives the ids and publishes them to the shards' streams; each replica embeds them),
        # /search, /stats, /save. The answer comes once the log stored the write; the second
        # batch also waits until every replica applied it ("wait": "applied").
        texts = texts_for(range(100))
        acked, id_of = {}, {}
        for lo, body in ((0, texts[:50]), (50, {"texts": texts[50:], "wait": "applied", "wait_timeout_ms": 60000})):
            st, ans = http("POST", R + "/index", body, timeout=70)
            check(st == 200 and ans.get("added") == 50 and len(set(ans.get("ids", []))) == 50 and len(ans.get("stored", [])) == 2
                  and (lo == 0 or ans.get("applied") is True), "/index through the router: 50 texts (%s) stored in the log"
                  % ("a bare list" if lo == 0 else "{texts}, applied"), "%d %r" % (st, ans))
            acked.update(zip(ans["ids"], texts[lo:lo + 50]))
            id_of.update(zip(texts[lo:lo + 50], ans["ids"]))
        check(len(acked) == 100, "100 distinct ids over both shards", repr(ans))
        wait("every replica applied the 100 documents", lambda: http("GET", R + "/stats")[1].get("total_vectors") == 100
             and all(r["log_lag"] == 0 for sh in http("GET", R + "/cluster")[1]["shards"] for r in sh), 60)

        # Searches through the router: a document's own text finds it first (score 1), at either shard.
        for t in (texts[3], texts[58], texts[91]):
            st, ans = http("POST", R + "/search", {"query": t, "k": 3})
            check(st == 200 and not ans.get("partial") and ans["results"][0]["id"] == id_of[t]
                  and abs(ans["results"][0]["score"] - 1) < 1e-5, "text search through the router finds document %d" % id_of[t],
                  "%d %r" % (st, ans))
        vec = embed([texts[42]])[0]
        st, ans = http("POST", R + "/search", {"vector": vec, "k": 5})
        check(st == 200 and ans["results"][0]["id"] == id_of[texts[42]] and ans["shards"] == 2, "vector search through the router",
              repr(ans))
        st, doc = http("GET", R + "/documents/%d" % id_of[texts[7]])
        check(st == 200 and doc.get("text") == texts[7], "GET /documents/{id} through the router", "%d %r" % (st, doc))

        # /stats through the router: the whole collection, one row per shard; each shard's two
        # replicas hold the same documents (the nodes asked directly, as a check only).
        st, ans = http("GET", R + "/stats")
        rows = sorted((r["shard"], r["total_vectors"]) for r in ans.get("per_shard", []))
        c = {n: http("GET", node[n] + "/stats")[1].get("total_vectors") for n in range(4)}
        check(st == 200 and ans["total_vectors"] == 100 and ans["partial"] is False and len(rows) == 2
              and all(v > 0 for _, v in rows) and rows == [(0, c[0]), (1, c[2])] and c[0] == c[1] and c[2] == c[3],
              "/stats through the router: 100 over 2 shards, replicas equal", "%d %r nodes %r" % (st, ans, c))
        # /save through the router: every node saves; one replica per shard publishes it to S3.
        st, ans = http("POST", R + "/save", timeout=300)
        uris = sorted({n.get("reply", {}).get("published", {}).get("uri", "") for n in ans.get("nodes", [])})
        check(st == 200 and ans.get("saved") is True and len(ans["nodes"]) == 4 and all(n["saved"] for n in ans["nodes"])
              and ans["total_vectors"] == 100 and len(uris) == 2 and uris[0].endswith("/cluster/shard-0") and uris[1].endswith("/cluster/shard-1"),
              "/save through the router: every node saved, both shards published to S3", "%d %r" % (st, ans))

        # One node container killed (docker kill: SIGKILL, and no automatic restart).
        run("docker", "kill", proj.container("n0"))
        wait("n0 out of the router's view (lease expired)",
             lambda: '"node":"n0","live":false' in json.dumps(http("GET", R + "/cluster")[1], separators=(",", ":")), 30)
        for t in (texts[3], texts[58], texts[91]):
            st, ans = http("POST", R + "/search", {"query": t, "k": 3})
            check(st == 200 and ans.get("partial") is False and ans["results"][0]["id"] == id_of[t],
                  "n0 down: search for %d answers in full (n1 serves shard 0)" % id_of[t], "%d %r" % (st, ans))
        st, ans = http("GET", R + "/stats")
        check(st == 200 and ans.get("partial") is False and ans.get("total_vectors") == 100,
              "n0 down: /stats through the router still whole", "%d %r" % (st, ans))
        mtexts = texts_for(range(100, 140))
        st, ans = http("POST", R + "/index", mtexts)
        check(st == 200 and ans.get("added") == 40 and len(set(ans.get("ids", [])) - set(acked)) == 40,
              "n0 down: 40 texts indexed through the router, stored in the log", "%d %r" % (st, ans))
        acked.update(zip(ans["ids"], mtexts))
        id_of.update(zip(mtexts, ans["ids"]))

        # Started again: its own write-ahead log, then the stream from the position it recorded.
        proj.compose("start", "n0")
        proj.wait_healthy(["n0"], 60)
        wait("n0 live and caught up with its streams", lambda: caught_up(R), 60)
        verify_all(node, acked, "after n0's restart (the log replayed what it missed)")

        # The log itself: one NATS node down (docker kill: it stays down), writes go on and are
        # acknowledged by the other two (R=3: a quorum of 2); it comes back and catches up; then
        # another is killed -9 and restarted by Docker. Nothing acknowledged is lost.
        run("docker", "kill", proj.container("nats1"))
        ktexts = texts_for(range(145, 175))
        st, ans = http("POST", R + "/index", ktexts, timeout=60)
        check(st == 200 and ans.get("added") == 30, "nats1 down: 30 texts indexed through the router, stored by the other two",
              "%d %r" % (st, ans))
        acked.update(zip(ans["ids"], ktexts))
        id_of.update(zip(ktexts, ans["ids"]))
        verify_all(node, acked, "nats1 down")
        proj.compose("start", "nats1")
        proj.wait_healthy(["nats1"], 60)
        kill9_process(proj, "nats2")
        ktexts = texts_for(range(175, 185))
        st, ans = http("POST", R + "/index", {"texts": ktexts, "wait": "applied", "wait_timeout_ms": 60000}, timeout=70)
        check(st == 200 and ans.get("added") == 10 and ans.get("applied") is True,
              "nats2 killed -9: 10 texts indexed through the router, applied", "%d %r" % (st, ans))
        acked.update(zip(ans["ids"], ktexts))
        proj.wait_healthy(["nats1", "nats2", "nats3"], 60)
        wait("every replica caught up", lambda: caught_up(R), 60)
        verify_all(node, acked, "after nats1 was stopped and nats2 killed -9, both restarted")

        # Crashes: Docker's restart policy brings a node and the router back, nothing lost.
        kill9_process(proj, "n2")
        kill9_process(proj, "router")
        proj.wait_healthy(["n2", "router"], 60)
        wait("4 replicas live again", lambda: live_count(R) == 4, 30)
        verify_all(node, acked, "after n2 and the router were killed -9 and restarted")
        st, ans = http("POST", R + "/search", {"query": mtexts[20], "k": 1})
        check(st == 200 and ans["results"][0]["id"] == id_of[mtexts[20]], "search through the restarted router", repr(ans))
        ntexts = texts_for(range(140, 145))
        st, ans = http("POST", R + "/index", ntexts)
        check(st == 200 and ans.get("added") == 5 and not set(ans.get("ids", [])) & set(acked),
              "/index through the restarted router: new ids, none reused (the counter is in etcd)", "%d %r" % (st, ans))
        acked.update(zip(ans["ids"], ntexts))

        # A new container for n3 (as after an image update): its data is on the named volume.
        proj.compose("up", "-d", "--force-recreate", "--no-deps", "n3")
        proj.wait_healthy(["n3"], 60)
        wait("n3 live again", lambda: live_count(R) == 4, 30)
        verify_all(node, acked, "after n3's container was recreated on its volume")

        # n1's volume lost: the new n1 restores shard 0's snapshot from S3 (the /save above) and
        # replays the stream after it, so what it holds came from the log and S3 only.
        proj.compose("rm", "-s", "-f", "n1")
        run("docker", "volume", "rm", proj.name + "_n1")
        proj.compose("up", "-d", "--no-deps", "n1")
        proj.wait_healthy(["n1"], 90)
        wait("n1 live and caught up", lambda: live_count(R) == 4 and caught_up(R), 60)
        out = run("docker", "logs", proj.container("n1")).stdout.decode(errors="replace")
        check("restored s3://%s/cluster/shard-0" % env["S3_BUCKET"] in out, "the new n1 restored shard 0's snapshot from S3",
              out[-1500:])
        verify_all(node, acked, "n1 on an empty volume (S3 snapshot + the stream's tail)")
    except Exception:
        proj.dump_logs()
        raise
    finally:
        proj.down()


def live_count(router):
    st, ans = http("GET", router + "/cluster")
    return sum(r["live"] for sh in ans["shards"] for r in sh) if st == 200 else -1


def caught_up(router):
    """Every replica live, and none behind its streams (log_lag 0, as the router polls it)."""
    st, ans = http("GET", router + "/cluster")
    return st == 200 and all(r["live"] and r.get("log_lag") == 0 for sh in ans["shards"] for r in sh)


def verify_all(node, acked, when, secs=60):
    """Every acknowledged document on exactly the two replicas of one shard, with its text
    (replicas apply the log asynchronously: given up to secs to get there)."""
    deadline = time.monotonic() + secs
    while True:
        where = {}
        for i, text in acked.items():
            hits = []
            for n in range(4):
                st, doc = http("GET", "%s/documents/%d" % (node[n], i))
                if st == 200 and doc.get("text") == text:
                    hits.append(n)
                elif st != 404:
                    check(False, "GET /documents/%d on n%d" % (i, n), "%d %r" % (st, doc))
            where[i] = hits
        bad = {i: h for i, h in where.items() if h not in ([0, 1], [2, 3])}
        if not bad or time.monotonic() > deadline:
            break
        time.sleep(1)
    check(not bad, "%s: all %d acknowledged documents on both replicas of their shard" % (when, len(acked)),
          "misplaced: %r" % dict(list(bad.items())[:10]))


def test_single(env):
    proj = Project("vsdeploytest%ds" % os.getpid(), "deploy/vecscale-single/docker-compose.yml", env)
    try:
        t = time.monotonic()
        proj.compose("up", "-d")
        proj.wait_healthy(["single-s3", "server"], 240)
        log("     single server up and healthy in %.1f s" % (time.monotonic() - t))
        for s in ("single-s3", "server"):
            i = proj.inspect(s)
            check(i["HostConfig"]["NetworkMode"] == "host" and i["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
                  and i["Config"].get("Healthcheck"), "%s: host network, restart unless-stopped, health check" % s)
        S = "http://127.0.0.1:%s" % env["SERVER_PORT"]
        texts = texts_for(range(60))
        st, ans = http("POST", S + "/index", texts[:40])
        check(st == 200 and ans.get("added") == 40 and len(ans.get("ids", [])) == 40, "/index with a bare list of 40 texts",
              "%d %r" % (st, ans))
        ids = dict(zip(ans["ids"], texts[:40]))
        st, ans = http("POST", S + "/search", {"query": texts[7], "k": 3})
        first = ans["results"][0] if st == 200 and ans.get("results") else {}
        check(first.get("text") == texts[7] and abs(first.get("score", 0) - 1) < 1e-5, "/search finds a document by its text",
              "%d %r" % (st, ans))
        st, ans = http("GET", S + "/stats")
        check(st == 200 and ans.get("total_vectors") == 40 and ans.get("model") == env["VECSCALE_MODEL"], "/stats: 40 vectors",
              "%d %r" % (st, ans))
        st, ans = http("POST", S + "/save", timeout=60)
        check(st == 200 and ans.get("published", {}).get("uri") == "s3://%s/single" % env["S3_BUCKET"],
              "/save publishes to S3", "%d %r" % (st, ans))
        st, ans = http("POST", S + "/index", texts[40:])
        check(st == 200 and ans.get("added") == 20, "/index of 20 more after the save", "%d %r" % (st, ans))
        ids.update(zip(ans["ids"], texts[40:]))

        kill9_process(proj, "server")
        proj.wait_healthy(["server"], 60)
        missing = [i for i, t in ids.items() if http("GET", "%s/documents/%d" % (S, i))[1].get("text") != t]
        check(not missing, "server killed -9 and restarted by Docker: all 60 acknowledged documents there", repr(missing[:10]))

        # The S3 store crashes (its supervisor and, with it, every Ceph daemon killed): Docker
        # restarts it on its volume, and the snapshot is still there (next step reads it).
        kill9_process(proj, "single-s3")
        proj.wait_healthy(["single-s3"], 120)

        # The data volume lost: a new server on an empty volume restores the last snapshot from S3.
        proj.compose("rm", "-s", "-f", "server")
        run("docker", "volume", "rm", proj.name + "_server-data")
        proj.compose("up", "-d", "server")
        proj.wait_healthy(["server"], 60)
        st, ans = http("GET", S + "/stats")
        saved = sorted(ids)[:40]
        restored = [i for i in saved if http("GET", "%s/documents/%d" % (S, i))[1].get("text") == ids[i]]
        check(st == 200 and ans.get("total_vectors") == 40 and len(restored) == 40,
              "empty volume: the 40 saved documents restored from S3 (the 20 added after the save were not saved)",
              "%d %r restored %d" % (st, ans, len(restored)))
        st, ans = http("POST", S + "/search", {"query": texts[7], "k": 1})
        check(st == 200 and ans["results"][0]["text"] == texts[7], "/search on the restored server", repr(ans))
    except Exception:
        proj.dump_logs()
        raise
    finally:
        proj.down()


def main():
    os.makedirs(WORK, exist_ok=True)
    for tool in ("docker", "docker-compose"):
        if not shutil.which(tool):
            print("test_compose: %s not found: apt-get install docker.io docker-compose (scripts/setup.sh)" % tool)
            sys.exit(1)
    # One deploy test at a time on a machine (parallel worktrees share the Docker engine).
    lock = open(os.path.join("/tmp", "vecscale-deploy-test.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    log("lock taken")
    p = run(os.path.join(SRC, "deploy", "dockerd.sh"), "ensure", check_rc=False)
    if p.returncode != 0:
        print("test_compose: no Docker engine can run here: %s" % p.stderr.decode(errors="replace").strip(), flush=True)
        sys.exit(1)
    started = p.stdout.decode().strip() == "started"
    log("Docker engine %s" % ("started by this test" if started else "already running"))
    try:
        t = time.monotonic()
        benv = dict(os.environ, VECSCALE_IMAGE_TAG=TAG)
        p = run(os.path.join(SRC, "deploy", "build-images.sh"), BUILD, env=benv, timeout=1800)
        log("     images built in %.1f s:\n%s" % (time.monotonic() - t, p.stderr.decode(errors="replace").strip()))

        env = base_env()
        cluster_ports = ["ROUTER_PORT", "NODE0_PORT", "NODE1_PORT", "NODE2_PORT", "NODE3_PORT", "ETCD_PORT", "ETCD_PEER_PORT",
                         "S3_PORT", "S3_MON_PORT"] + ["NATS%d_%sPORT" % (i, k) for i in (1, 2, 3) for k in ("", "CLUSTER_", "MON_")]
        single_ports = ["SERVER_PORT", "SINGLE_S3_PORT", "SINGLE_S3_MON_PORT"]
        singles, ranges = pick_ports(len(cluster_ports) + len(single_ports), 2, 20)
        cl = dict(env)
        for k, port in zip(cluster_ports, singles):
            check(k in env, "deploy/.env sets %s" % k)
            cl[k] = str(port)
        cl["S3_CEPH_PORT_MIN"], cl["S3_CEPH_PORT_MAX"] = str(ranges[0]), str(ranges[0] + 19)
        sg = dict(env)
        for k, port in zip(single_ports, singles[len(cluster_ports):]):
            sg[k] = str(port)
        sg["SINGLE_S3_CEPH_PORT_MIN"], sg["SINGLE_S3_CEPH_PORT_MAX"] = str(ranges[1]), str(ranges[1] + 19)
        # The two deployments are independent (own projects, ports, volumes): run side by side.
        errors = []

        def guarded(fn, env):
            try:
                fn(env)
            except Exception as e:  # reported below, after both have finished and cleaned up
                errors.append("%s: %s" % (threading.current_thread().name, e))
        threads = [threading.Thread(target=guarded, args=(test_cluster, cl), name="cluster"),
                   threading.Thread(target=guarded, args=(test_single, sg), name="single")]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            raise AssertionError("; ".join(errors))
    finally:
        if started:
            r = run(os.path.join(SRC, "deploy", "dockerd.sh"), "stop", check_rc=False)
            check(r.returncode == 0, "the dockerd this test started is stopped", r.stderr.decode(errors="replace"))
    log("all deploy checks passed in %.1f s" % (time.monotonic() - T0))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("test_compose: FAILED: %s" % e, flush=True)
        sys.exit(1)
