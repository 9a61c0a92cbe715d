#!/usr/bin/python3
"""The single server's API through the cluster router on the replicated log (issue 16): a client
must not be able to tell 2 shards x 2 replicas behind `vecscale route --nats` (replicas `serve
--cluster --nats` applying each shard's JetStream stream; a 3-node NATS cluster of this test's
own) from one `vecscale serve`. Both run over a GloVe model made from the tiny fixture; the same
requests go to both and the replies are compared:
  - POST /index in its three shapes (bare texts, bare documents, {texts|documents, skip_empty}):
    added / total / ids as one server (automatic ids unique over the cluster, after the largest
    integer id given), each document on the shard its id hashes to, on both replicas; refusals
    (status and error code) as one server, before anything is stored (a text of no known word
    found by a replica's dry run); an id a replica already holds, found only when it applies the
    write, is acknowledged by the log and stored nowhere;
  - POST /vectors with and without ids; "wait": "applied" (read-your-writes, "total" included);
  - GET /documents/{id} (string ids, percent-encoded ones) and DELETE /documents/{id} (gone from
    both replicas; 404 for one that no replica holds once they applied their stream); GET /stats and GET /collections summed over the shards with one row per shard;
    POST /save on every node, its `path` rule as one server; GET /health; unknown query
    parameters 400; POST /collections and DELETE /collections/{name} through the log;
  - a node killed -9 mid-way: GET falls over to the other replica, a delete made while it is down
    reaches it from the stream when it is back; both replicas of a shard down: /stats,
    /collections and /save name the missing shard, writes are still acknowledged and the shard
    applies them when it is back.
Usage: test_cluster_api.py VECSCALE TESTS-DIR TMPDIR"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

VS, SRC, T = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
HERE = os.path.dirname(os.path.abspath(__file__))
shutil.rmtree(T, ignore_errors=True)
os.makedirs(T)
MODEL = os.path.join(T, "tiny.vsm")
subprocess.run([VS, "model", "import-glove", "--input", os.path.join(SRC, "fixtures/embed/glove_tiny.txt"),
                "--output", MODEL], check=True, capture_output=True)
SHARDS = 2
NATS_SH = os.path.join(HERE, "nats.sh")


class Remote(Server):
    """A server started elsewhere (the router), driven with Server's request helpers."""

    def __init__(self, url):  # noqa: super().__init__ starts a process; this one only talks
        self.url = url


out = subprocess.run([os.path.join(HERE, "etcd.sh"), "start", os.path.join(T, "etcd")], capture_output=True, text=True)
check(out.returncode == 0, "etcd started", out.stdout, out.stderr)
ETCD = out.stdout.strip().split("ETCD_ENDPOINT=")[1].split()[0]
out = subprocess.run([NATS_SH, "start", os.path.join(T, "nats")], capture_output=True, text=True)
check(out.returncode == 0, "NATS started", out.stdout, out.stderr)
NATS = out.stdout.strip().split("NATS_URL=")[1].split()[0]
procs = []


def stop_all():
    for p in procs:
        p.stop()
    subprocess.run([os.path.join(HERE, "etcd.sh"), "stop", os.path.join(T, "etcd")], capture_output=True)
    subprocess.run([NATS_SH, "stop", os.path.join(T, "nats")], capture_output=True)


def start_node(i):
    n = Server(VS, os.path.join(T, "n%d" % i), "--model", MODEL, "--index", "Flat", "--cluster", ETCD, "--node-id",
               "n%d" % i, "--ttl", "2", "--nats", NATS)
    procs.append(n)
    return n


class RouterProc:
    def __init__(self, name="router"):
        port_file = os.path.join(T, name + ".port")
        self.log = open(os.path.join(T, name + ".log"), "ab")
        # A killed replica is refused at once; the attempt timeout only has to outlast a slow
        # answer, and 500 ms did not under ASan on a loaded machine (up to 1.9 s: test_cluster.sh).
        self.proc = subprocess.Popen([VS, "route", "--cluster", ETCD, "--nats", NATS, "--port", "0", "--port-file",
                                      port_file, "--attempt-timeout", "4000", "--request-timeout", "9000"],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("router %s did not start (log %s)" % (name, self.log.name))
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        self.log.close()
        return rc


try:
    subprocess.run([VS, "cluster", "init", "--etcd", ETCD, "--shards", str(SHARDS), "--replicas", "2", "--nodes",
                    "n0,n1,n2,n3", "--metric", "cosine"], check=True, capture_output=True)
    nodes = [start_node(i) for i in range(4)]  # shard s: n(2s), n(2s+1)
    rp = RouterProc()
    procs.append(rp)
    R = Remote(rp.url)
    S = Server(VS, os.path.join(T, "single"), "--model", MODEL, "--index", "Flat")
    procs.append(S)

    def live_count():
        status, c = R.request("GET", "/cluster")
        return json.dumps(c, separators=(",", ":")).count('"live":true') if status == 200 else -1

    def wait_live(n, timeout=60):  # a deadline: ASan servers under load register slowly
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if live_count() == n:
                return True
            time.sleep(0.1)
        return False

    check(wait_live(4), "4 replicas registered")

    def both(method, path, body=None, raw=None):
        return R.request(method, path, body, raw), S.request(method, path, body, raw)

    def node_has(i, doc_id, coll=""):
        status, _ = nodes[i].request("GET", coll + "/documents/" + urllib.parse.quote(str(doc_id), safe=""))
        return status == 200

    def node_total(i, coll="default"):
        status, st = nodes[i].request("GET", "/collections/" + coll)
        return st["total_vectors"] if status == 200 else None

    def settled(coll="default", up=range(4), timeout=60):
        """Polls until the live replicas of each shard hold the same count and the shards
        together hold what the single server holds (the streams are applied)."""
        want = S.ok("GET", "/collections/" + coll)["total_vectors"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = {i: node_total(i, coll) for i in up}
            pairs = [[t[i] for i in (2 * s, 2 * s + 1) if i in t] for s in range(SHARDS)]
            if all(p and None not in p and len(set(p)) == 1 for p in pairs) and sum(p[0] for p in pairs) == want:
                return True
            time.sleep(0.05)
        return False

    def applied(body):  # an object body that waits until every live replica applied it
        return dict(body, wait="applied", wait_timeout_ms=20000)

    def same_write(path, body, what, raw=None, fields=("added", "total", "ids", "skipped")):
        """The same write to both; the router's body waits for the replicas when it is an object
        (a bare array has no room for "wait": its total is compared once the streams applied)."""
        rb = applied(body) if isinstance(body, dict) else body
        rs, r = R.request("POST", path, rb, raw)
        ss, s = S.request("POST", path, body, raw)
        if not isinstance(body, dict):
            check(settled(path.rsplit("/", 1)[0].replace("/collections/", "") or "default"), what + ": applied", r)
            r["total"] = R.ok("GET", path.rsplit("/", 1)[0] + "/stats")["total_vectors"]
        view = {k: r.get(k) for k in fields if k in r} if isinstance(r, dict) else r
        s = {k: s.get(k) for k in fields if k in s} if isinstance(s, dict) else s
        check(rs == ss == 200 and view == s, what + ": the router answers as one server", rs, r, ss, s)
        check(sorted(p["shard"] for p in r["stored"]) == sorted({p["shard"] for p in r["stored"]}) and
              r.get("applied", True) is True, what + ": stored in the log, one part per shard", r)
        return r

    # --- POST /index, its three shapes ----------------------------------------------------
    r = same_write("/index", ["cat", "dog dog", "the mat", "sat on the mat", "big cat", "a dog"], "bare array of texts")
    check(r["ids"] == [0, 1, 2, 3, 4, 5], "automatic ids 0..5, as one server", r)
    placed = {i: [n for n in range(4) if node_has(n, i)] for i in r["ids"]}
    shards_used = {tuple(v) for v in placed.values()}
    check(all(v in ([0, 1], [2, 3]) for v in placed.values()) and len(shards_used) == SHARDS,
          "each document on both replicas of exactly one shard, both shards used", placed)
    r = same_write("/index", [{"id": 100, "text": "the big cat", "metadata": {"size": "big"}},
                              {"id": "doc-a/b", "text": "dog on the mat"}, {"id": "17", "text": "cat sat"}],
                   "bare array of documents (integer, string, \"17\" ids; metadata)")
    check(r["ids"] == [100, "doc-a/b", 17], "ids shown as given (\"17\" as the number)", r)
    r = same_write("/index", {"texts": ["dog", "cat"]}, "{texts}")
    check(r["ids"] == [101, 102], "automatic ids continue after the largest integer given (100)", r)
    # A text of no known word is found by the replica that embeds it, after the log stored the
    # write: skip_empty skips it there (the answer cannot name it), the rest is stored.
    r = same_write("/index", {"documents": [{"text": "mat"}, {"text": "qqqzzz"}, {"text": "big dog"}],
                              "skip_empty": True}, "{documents, skip_empty} with a text of no known word",
                   fields=("total",))
    check(r["ids"] == [103, 104, 105] and r["added"] == 3 and not any(node_has(n, 104) for n in range(4)) and
          any(node_has(n, 103) for n in range(4)) and any(node_has(n, 105) for n in range(4)),
          "the text of no known word skipped by the replicas, the others stored", r)
    S.ok("DELETE", "/documents/104")  # the single server gave "big dog" 104: make it 105 there too
    S.ok("POST", "/index", [{"id": 105, "text": "big dog"}])
    # automatic ids from two routers never collide: a second router on the same etcd and NATS
    rp2 = RouterProc("router2")
    procs.append(rp2)
    R2 = Remote(rp2.url)
    deadline = time.monotonic() + 60
    while R2.request("GET", "/stats")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    a = R.ok("POST", "/index", ["cat"] * 3)["ids"]
    b = R2.ok("POST", "/index", ["dog"] * 3)["ids"]
    c = R.ok("POST", "/index", ["mat"])["ids"]
    check(len(set(a + b + c)) == 7 and min(a + b + c) > 105, "two routers hand out distinct automatic ids", a, b, c)
    S.ok("POST", "/index", [{"id": i, "text": t} for i, t in zip(a + b + c, ["cat"] * 3 + ["dog"] * 3 + ["mat"])])
    check(settled(), "both routers' writes applied")

    # refusals the server makes from the body: the same status and error code as one server,
    # before the log stores anything
    before = R.ok("GET", "/stats")["total_vectors"]
    bad = [([], None), ([1, 2], None), (["cat", {"text": "dog"}], None), ({"texts": ["a"], "documents": []}, None),
           ({"texts": ["cat"], "extra": 1}, None), ({"texts": []}, None), ({"texts": ["cat", 3]}, None),
           ([{"id": 1, "text": "cat"}, {"text": "dog"}], None), ([{"id": -1, "text": "cat"}], None),
           ([{"id": "", "text": "cat"}], None), ([{"id": 5, "text": "cat", "colour": 1}], None),
           ([{"id": 5, "text": "cat", "metadata": 3}], None), ({"texts": ["cat"], "skip_empty": 1}, None),
           ([{"id": 2 ** 60, "text": "cat"}], None), (None, '{"texts": ["cat"'), (None, '"cat"'),
           (None, '["cat", "zzqqxx", "dog"]')]  # no known word: found by a replica's dry run
    for body, raw in bad:
        (rs, r), (ss, s) = both("POST", "/index", body, raw)
        rc = r.get("error", {}).get("code") if isinstance(r, dict) else r
        sc = s.get("error", {}).get("code") if isinstance(s, dict) else s
        check(rs == ss and rs >= 400 and rc == sc, "refused as one server: %s" % (raw or json.dumps(body)), rs, r, ss, s)
    v1 = [[0.1] * S.ok("GET", "/stats")["dimension"]]
    for body in ({"vectors": v1, "extra": 1}, {"vectors": []}, {"ids": [1]}, {"vectors": v1, "ids": [1, 2]},
                 {"vectors": v1, "ids": [-3]}, {"vectors": v1, "ids": [""]}, {"vectors": v1, "ids": [1.5]}, [1]):
        (rs, r), (ss, s) = both("POST", "/vectors", body)
        check(rs == ss == 400 and r["error"]["code"] == s["error"]["code"], "/vectors refused as one server: %s" %
              json.dumps(body)[:80], r, s)
    # an id the collection holds: 409 duplicate_id as on one server, checked on the owning
    # shard's replica before the log stores anything (0 and 100 are on different shards)
    for path, body in (("/index", {"documents": [{"id": 0, "text": "cat"}]}),
                       ("/index", {"documents": [{"id": 100, "text": "cat"}, {"id": 9000, "text": "dog"}]}),
                       ("/vectors", {"vectors": v1, "ids": [0]}), ("/vectors", {"vectors": v1 * 2, "ids": [9001, 100]}),
                       ("/vectors", {"vectors": v1, "ids": ["doc-a/b"]})):
        (rs, r), (ss, s) = both("POST", path, body)
        check(rs == ss == 409 and r["error"]["code"] == s["error"]["code"] == "duplicate_id",
              "an id the collection holds, refused as one server: %s %s" % (path, json.dumps(body)[:80]), rs, r, ss, s)
    check(settled(), "nothing to apply")
    after = R.ok("GET", "/stats")["total_vectors"]
    check(after == before, "refused writes stored nothing", before, after)

    # --- POST /vectors without ids: automatic ids too; "wait": "applied" ---------------------------
    dim = S.ok("GET", "/stats")["dimension"]
    vec = [0.1] * dim
    r = R.ok("POST", "/vectors", {"vectors": [vec, vec], "wait": "applied"})
    check(r["added"] == 2 and len(set(r["ids"])) == 2 and min(r["ids"]) > max(a + b + c) and r["applied"] is True,
          "POST /vectors without ids, waiting until applied", r)
    check(all(node_has(n, i) for i in r["ids"] for n in range(4) if node_has(n ^ 1, i) or node_has(n, i)) and
          sum(node_has(n, r["ids"][0]) for n in range(4)) == 2, "read-your-writes: both replicas have it", r)
    check(S.ok("POST", "/vectors", {"vectors": [vec, vec], "ids": r["ids"]})["total"] == r["total"],
          "POST /vectors: total as one server", r)
    r2 = R.ok("POST", "/vectors", {"vectors": [vec], "ids": ["v-x"], "request_id": "once", "wait": "applied"})
    # the retry finds v-x applied: the log's dedup answers it as the first time, not 409
    r3 = R.ok("POST", "/vectors", {"vectors": [vec], "ids": ["v-x"], "request_id": "once", "wait": "applied"})
    check(r2["stored"] == r3["stored"] and r3["added"] == 1, "a retried request_id is stored once (same stream sequence)",
          r2, r3)
    S.ok("POST", "/vectors", {"vectors": [vec], "ids": ["v-x"]})
    (rs, r), (ss, s) = both("POST", "/vectors", {"vectors": [vec], "ids": ["v-x"]})
    check(rs == ss == 409 and r["error"]["code"] == s["error"]["code"] == "duplicate_id",
          "the same add again without a request_id: 409 as one server", rs, r, ss, s)
    r4 = R.ok("POST", "/index", {"documents": [{"id": "t-x", "text": "cat"}], "request_id": "once-i", "wait": "applied"})
    r5 = R.ok("POST", "/index", {"documents": [{"id": "t-x", "text": "cat"}], "request_id": "once-i", "wait": "applied"})
    check(r4["stored"] == r5["stored"], "a retried /index with explicit ids and request_id: the first reply", r4, r5)
    S.ok("POST", "/index", {"documents": [{"id": "t-x", "text": "cat"}]})
    check(settled(), "applied")

    # --- searches see the documents ---------------------------------------------------------
    (rs, r), (ss, s) = both("POST", "/search", {"query": "the big cat", "k": 3})
    check(rs == ss == 200 and [h["id"] for h in r["results"]] == [h["id"] for h in s["results"]],
          "text search through the router = one server's", r, s)
    (rs, r), (ss, s) = both("POST", "/search", {"query": "zebra quux", "k": 1})
    check(rs == ss == 200 and r["results"] == s["results"] == [] and
          r.get("warning", {}).get("code") == s["warning"]["code"] == "no_known_word",
          "a query of no known word: the shards' warning passed on, as one server", r, s)

    # --- POST /search/batch: each query merged over the shards --------------------------------
    for body in ({"queries": ["the big cat", "dog on the mat", "zzqqxx"], "k": 4},
                 {"vectors": [vec, [0.2] * dim], "k": 3}):
        (rs, r), (ss, s) = both("POST", "/search/batch", body)
        strip = [{k: q.get(k) for k in ("query", "results", "warning") if k in q} for q in s["results"]]
        check(rs == ss == 200 and r["results"] == strip and r["partial"] is False,
              "search/batch through the router = one server's (%s)" % list(body)[0], r, s)
    (rs, r), (ss, s) = both("POST", "/search/batch", {"queries": [], "k": 3})
    check(rs == ss == 400 and r["error"]["code"] == s["error"]["code"], "a bad batch refused as one server", r, s)

    # --- GET /documents/{id} ----------------------------------------------------------------
    for doc_id in (100, "doc-a/b", 17, 3):
        p = "/documents/" + urllib.parse.quote(str(doc_id), safe="")
        (rs, r), (ss, s) = both("GET", p)
        check(rs == ss == 200 and r == s, "GET %s = one server's (text, metadata, vector)" % p, r, s)
    for p in ("/documents/nope", "/documents/a%00b", "/collections/default/documents/999999"):
        (rs, r), (ss, s) = both("GET", p)
        check(rs == ss and r["error"]["code"] == s["error"]["code"], "GET %s refused as one server" % p, rs, r, ss, s)

    # --- DELETE /documents/{id} -------------------------------------------------------------
    holders = [n for n in range(4) if node_has(n, "doc-a/b")]
    (rs, r), (ss, s) = both("DELETE", "/documents/doc-a%2Fb")
    check(rs == ss == 200 and r["deleted"] == s["deleted"] == "doc-a/b" and "total" in r,
          "DELETE: deleted as one server, with the total", r, s)
    check(settled() and len(holders) == 2 and not any(node_has(n, "doc-a/b") for n in holders),
          "deleted on both replicas", holders)
    for p in ("/documents/doc-a%2Fb", "/documents/nope", "/collections/default/documents/999999"):
        (rs, r), (ss, s) = both("DELETE", p)
        check(rs == ss == 404 and r["error"]["code"] == s["error"]["code"] == "document_not_found",
              "DELETE %s of a document no replica holds: 404 as one server" % p, r, s)
    (rs, r), (ss, s) = both("DELETE", "/documents/17")
    check(rs == ss == 200 and r["deleted"] == s["deleted"] == 17 and "ids" not in r,
          "DELETE /documents/17: the id shown as a number", r, s)
    (rs, r), (ss, s) = both("DELETE", "/documents/")
    check(rs == ss and rs >= 400, "DELETE without an id refused as one server", rs, r, ss, s)

    # --- /stats, /collections, /health, unknown parameters ----------------------------------
    check(settled(), "applied")
    (rs, r), (ss, s) = both("GET", "/stats")
    per = [nodes[2 * k].ok("GET", "/stats")["total_vectors"] for k in range(SHARDS)]
    check(rs == 200 and r["total_vectors"] == s["total_vectors"] == sum(per), "/stats: total over the shards", r, s, per)
    check(all(r[k] == s[k] for k in ("name", "dimension", "index_type", "metric", "model")),
          "/stats: name, dimension, index, metric, model as one server", r, s)
    check(sorted(row["shard"] for row in r["per_shard"]) == list(range(SHARDS)) and
          sorted(row["total_vectors"] for row in r["per_shard"]) == sorted(per) and r["partial"] is False,
          "/stats: one row per shard, none missing", r)
    st, r = R.request("GET", "/collections/default")
    check(st == 200 and r["total_vectors"] == s["total_vectors"] and r["name"] == "default",
          "GET /collections/default: the collection's stats", r)
    (rs, r), (ss, s) = both("GET", "/collections")
    check(rs == 200 and [c["name"] for c in r["collections"]] == [c["name"] for c in s["collections"]] and
          r["collections"][0]["total_vectors"] == s["collections"][0]["total_vectors"],
          "GET /collections: the listing, totals summed", r, s)
    for p in ("/", "/openapi.json"):
        with urllib.request.urlopen(R.url + p, timeout=30) as via, urllib.request.urlopen(S.url + p, timeout=30) as one:
            check(via.status == one.status == 200 and via.read() == one.read() and
                  via.headers["Content-Type"] == one.headers["Content-Type"],
                  "GET %s through the router: the server's, same content type (%s)" % (p, via.headers["Content-Type"]))
    h = R.ok("GET", "/health")
    check(h["status"] == "ok" and h["shards"] == SHARDS and h["shards_live"] == SHARDS, "GET /health", h)
    for method, p in (("GET", "/health?x=1"), ("GET", "/cluster?verbose"), ("POST", "/search?k=3"),
                      ("GET", "/stats?x=1"), ("POST", "/index?k=1"), ("GET", "/documents/3?x=1"),
                      ("DELETE", "/documents/3?verbose=1"), ("GET", "/collections?all=1"), ("POST", "/save?force=1"),
                      ("GET", "/stats?path=x"), ("POST", "/vectors?x=1"), ("POST", "/collections?x=1")):
        st, r = R.request(method, p, ["cat"] if method == "POST" else None)
        check(st == 400 and r["error"]["code"] == "unknown_parameter", "%s %s: 400 unknown_parameter" % (method, p), r)
    check(node_has(0, 3) or node_has(2, 3), "document 3 still there after the refused DELETE ?verbose=1")
    # The router's collection routes are a table like the server's: the same 404s and 405s
    # (the Allow list in row order), the same refusal of 'path' outside a save.
    for method, p in (("GET", "/search"), ("PUT", "/documents/3"), ("DELETE", "/stats"), ("GET", "/save"),
                      ("GET", "/save?path=x"), ("GET", "/nope"), ("GET", "/search?path=x"), ("GET", "/nope?path=x")):
        (rs, r), (ss, s) = both(method, p)
        check(rs == ss and r["error"]["code"] == s["error"]["code"], "%s %s: the router answers as one server" % (method, p),
              rs, r, ss, s)
        if rs == 405:
            allow = s["error"]["message"].split("use ")[-1]
            check(r["error"]["message"].endswith("use " + allow), "%s %s: 405 allows %s" % (method, p, allow), r, s)
    # The router's own /metrics, rendered by the HTTP layer's registry as the server's is.
    with urllib.request.urlopen(R.url + "/metrics", timeout=30) as resp:
        m = resp.read().decode()
        ctype = resp.headers["Content-Type"]
    check(ctype.startswith("text/plain; version=0.0.4") and
          'vecscale_http_requests_total{route="health",code="200"} 1\n' in m and
          'vecscale_http_requests_total{route="stats",code="400"} 1\n' in m and
          'vecscale_http_request_duration_seconds_count{route="search"} ' in m and
          'vecscale_http_requests_total{route="vectors",code="200"} ' in m and
          "vecscale_http_in_flight 1\n" in m,
          "GET /metrics on the router: requests by route (writes too) and code, histograms, in flight", ctype, m[:1500])

    # --- collections created and dropped on every shard, through the log ----------------------
    spec = {"name": "books", "model": MODEL, "index": "Flat"}
    (rs, r), (ss, s) = both("POST", "/collections", spec)
    check(rs == ss == 201 and all(r[k] == s[k] for k in ("name", "total_vectors", "dimension", "model")) and
          all(nodes[i].request("GET", "/collections/books")[0] == 200 for i in range(4)),
          "POST /collections: created on every node, answered as one server", r, s)
    (rs, r), (ss, s) = both("POST", "/collections", spec)
    check(rs == ss == 409 and r["error"]["code"] == s["error"]["code"], "creating it again: 409 as one server", r, s)
    for body in ({"name": "c2", "dimension": 4, "colour": 1}, {"name": "c2"}, "x"):
        (rs, r), (ss, s) = both("POST", "/collections", body)
        check(rs == ss == 400 and r["error"]["code"] == s["error"]["code"], "create %s refused as one server" % body, r, s)
    r = same_write("/collections/books/index", ["cat on the mat", "a big dog", "sat"], "/collections/books/index")
    check(r["ids"] == [0, 1, 2], "a new collection's automatic ids start at 0, as one server", r)
    check(settled("books"), "books applied on every replica")
    (rs, r), (ss, s) = both("POST", "/collections/books/search", {"query": "big dog", "k": 1})
    check(rs == ss == 200 and r["results"][0]["id"] == s["results"][0]["id"], "search in the new collection", r, s)
    st, r = R.request("GET", "/collections")
    check(sorted(c["name"] for c in r["collections"]) == ["books", "default"], "the listing has both", r)
    (rs, r), (ss, s) = both("DELETE", "/collections/books")
    check(rs == ss == 200 and r["deleted"] == s["deleted"] == "books" and r["applied"] is True and
          all(nodes[i].request("GET", "/collections/books")[0] == 404 for i in range(4)),
          "DELETE /collections/books: dropped on every node through the log", r, s)
    (rs, r), (ss, s) = both("GET", "/collections/books/stats")
    check(rs == ss == 404 and r["error"]["code"] == s["error"]["code"], "a dropped collection is 404 as one server", r, s)
    (rs, r), (ss, s) = both("DELETE", "/collections/books")
    check(rs == ss == 404 and r["error"]["code"] == s["error"]["code"], "dropping it again: 404 as one server", r, s)
    (rs, r), (ss, s) = both("POST", "/collections", {"name": "bad name!", "dimension": 4})
    check(rs == ss == 400 and r["error"]["code"] == s["error"]["code"] and
          all(nodes[i].request("GET", "/collections/bad%20name!")[0] == 404 for i in range(4)),
          "a refused create creates nothing", r, s)
    # a create only a replica can refuse (a model it cannot open): the log stored it, no replica
    # made it, and the answer says so rather than pretend
    ghost = {"name": "ghost", "model": os.path.join(T, "nope.vsm")}
    rs, r = R.request("POST", "/collections", dict(ghost, wait_timeout_ms=1500))
    ss, s = S.request("POST", "/collections", ghost)
    check(ss == 400 and rs == 201 and r.get("applied") is False and
          all(nodes[i].request("GET", "/collections/ghost")[0] == 404 for i in range(4)),
          "a create the replicas refuse: \"applied\": false, created nowhere", r, s)
    # the log's own fields are the router's: a "wait" must not reach the replicas' create
    rs, r = R.request("POST", "/collections", {"name": "waited", "dimension": 4, "wait": "applied",
                                               "wait_timeout_ms": 10000, "request_id": "create-waited"})
    check(rs == 201 and r.get("applied") is not False and
          all(nodes[i].request("GET", "/collections/waited")[0] == 200 for i in range(4)),
          "POST /collections with \"wait\": created on every node", r)
    check(R.request("DELETE", "/collections/waited")[0] == 200, "and dropped again")
    # created again after the drop: empty, its ids from 0 again
    (rs, r), (ss, s) = both("POST", "/collections", spec)
    check(rs == ss == 201 and r["total_vectors"] == s["total_vectors"] == 0, "created again after the drop: empty", r, s)
    r = same_write("/collections/books/index", {"texts": ["big cat"]}, "/collections/books/index after the drop")
    check(r["ids"] == [0], "its automatic ids start at 0 again", r)

    # --- POST /save on every node -----------------------------------------------------------
    r = R.ok("POST", "/save")
    check(r["saved"] is True and sorted(n["node"] for n in r["nodes"]) == ["n0", "n1", "n2", "n3"] and
          all(n["saved"] for n in r["nodes"]) and r["total_vectors"] == R.ok("GET", "/stats")["total_vectors"],
          "POST /save: every node saved, total over the shards", r)
    r = R.ok("POST", "/save?path=exp1")
    check(all(n["reply"]["export"]["name"] == "exp1" for n in r["nodes"]) and
          all(os.path.isdir(os.path.join(T, "n%d" % i, "exports", "exp1")) for i in range(4)),
          "POST /save?path=NAME: every node exports into its own data directory", r)
    R.ok("POST", "/save", {"path": "exp2"})
    for p, body in (("/save?path=../x", None), ("/save?path=/tmp/x", None), ("/save", {"path": "a/b"}),
                    ("/save?path=x", {"path": "y"}), ("/save", {"path": 3})):
        (rs, r), (ss, s) = both("POST", p, body)
        check(rs == ss == 400 and r["error"]["code"] == s["error"]["code"] == "invalid_path",
              "save %s %s refused as one server" % (p, body), r, s)
    check(not os.path.exists(os.path.join(T, "x")) and not os.path.exists("/tmp/x"), "nothing written outside")

    # --- a node killed -9 mid-way -------------------------------------------------------------
    doc = 100
    holder = [n for n in range(4) if node_has(n, doc)]
    want = S.ok("GET", "/documents/%d" % doc)
    victim = holder[0]
    nodes[victim].stop(9)  # still registered (lease 2 s): the router tries it and moves on
    ok_reads = sum(1 for _ in range(6) if R.request("GET", "/documents/%d" % doc) == (200, want))
    check(ok_reads == 6, "GET falls over to the other replica while n%d is dead (6 of 6)" % victim, ok_reads)
    check(wait_live(3), "the dead replica left the cluster")
    r = R.ok("GET", "/documents/%d" % doc)
    check(r == want, "GET with one replica of the shard gone", r)
    # a delete while a replica is down: applied by its peer, and by it from the stream when back
    victim_shard = victim // 2
    on_shard = [i for i in a + b + c if node_has(holder[1], i)]
    gone = on_shard[0]
    r = R.ok("DELETE", "/documents/%d" % gone)
    S.ok("DELETE", "/documents/%d" % gone)
    check(r["deleted"] == gone and settled(up=[n for n in range(4) if n != victim]) and not node_has(holder[1], gone),
          "DELETE with a replica down: applied by the live one", r)
    r = R.ok("GET", "/stats")
    check(r["partial"] is False and r["total_vectors"] == S.ok("GET", "/stats")["total_vectors"],
          "/stats with one replica down: full", r)
    nodes[victim] = start_node(victim)
    check(wait_live(4), "the replica is back")
    check(settled() and not node_has(victim, gone) and node_has(victim, doc),
          "the restarted replica applied the delete from the stream")

    # both replicas of one shard down: reads name it; writes are stored in the log and the
    # shard applies them when it is back
    other = 1 - victim_shard
    for i in (2 * other, 2 * other + 1):
        nodes[i].stop(9)
    check(wait_live(2), "shard %d down" % other)
    st, r = R.request("GET", "/stats")
    check(st == 200 and r["partial"] is True and r["missing_shards"] == [other] and str(other) in r["why"] and
          [row["shard"] for row in r["per_shard"]] == [victim_shard], "/stats names the missing shard", r)
    st, r = R.request("GET", "/collections")
    check(st == 200 and r["missing_shards"] == [other], "/collections names the missing shard", r)
    st, r = R.request("POST", "/save")
    check(st == 503 and r["missing_shards"] == [other] and r["saved"] is False, "/save names the missing shard", r)
    texts = ["cat", "dog", "mat", "big cat", "sat", "a dog", "the cat", "dog dog"]
    st, r = R.request("POST", "/index", texts)
    check(st == 200 and r["added"] == 8 and sorted(p["shard"] for p in r["stored"]) == [0, 1],
          "/index with a shard down: stored in both shards' streams", r)
    S.ok("POST", "/index", [{"id": i, "text": t} for i, t in zip(r["ids"], texts)])
    missing_doc = next(i for i in a + b + c + [0, 1, 2, 3, 4, 5] if i != gone and not node_has(2 * victim_shard, i))
    st, r = R.request("GET", "/documents/%d" % missing_doc)
    check(st == 503 and r["error"]["code"] == "shard_unavailable", "GET of a document on the down shard: 503", r)
    check(R.ok("GET", "/health")["shards_live"] == 1, "/health counts the live shards")
    for i in (2 * other, 2 * other + 1):
        nodes[i] = start_node(i)
    check(wait_live(4) and settled(), "the shard is back and applied what was written while it was down")

    # etcd away: writes that bring their ids go on (the router owes etcd the largest id), those
    # that need automatic ids are refused with the reason, and nothing crashes
    subprocess.run([os.path.join(HERE, "etcd.sh"), "stop", os.path.join(T, "etcd")], capture_output=True, check=True)
    codes = [R.request("POST", "/index", [{"id": i, "text": "cat"}])[0] for i in range(5000, 5008)]
    check(codes == [200] * 8, "etcd away: documents with ids still stored in the log", codes)
    st, r = R.request("POST", "/index", ["cat"])
    check(st == 503 and r["error"]["code"] == "ids_unavailable" and "etcd" in r["error"]["message"],
          "etcd away: automatic ids refused with the reason", st, r)
    print("all ok", flush=True)
finally:
    stop_all()
