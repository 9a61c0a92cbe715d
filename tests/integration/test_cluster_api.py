#!/usr/bin/python3
"""The single server's API through the cluster router (issue 16): a client must not be able to
tell 2 shards x 2 replicas behind `vecscale route` from one `vecscale serve`. Both run over a
GloVe model made from the tiny fixture; the same requests go to both and the replies are compared:
  - POST /index in its three shapes (bare texts, bare documents, {texts|documents, skip_empty}):
    added / total / ids as one server (automatic ids unique over the cluster, after the largest
    integer id given), each document on the shard its id hashes to, on both replicas; refusals
    (status and error code) as one server, and nothing stored by a refused request;
  - GET /documents/{id} (string ids, percent-encoded ones) and DELETE /documents/{id} (gone from
    both replicas); GET /stats and GET /collections summed over the shards with one row per shard;
    POST /save on every node, its `path` rule as one server; GET /health; unknown query
    parameters 400;
  - a node killed -9 mid-way: GET falls over to the other replica, a delete is queued for it and
    replayed when it is back; both replicas of a shard down: /stats, /collections, /save and
    /index name the missing shard.
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


class Remote(Server):
    """A server started elsewhere (the router), driven with Server's request helpers."""

    def __init__(self, url):  # noqa: super().__init__ starts a process; this one only talks
        self.url = url


out = subprocess.run([os.path.join(HERE, "etcd.sh"), "start", os.path.join(T, "etcd")], capture_output=True, text=True)
check(out.returncode == 0, "etcd started", out.stdout, out.stderr)
ETCD = out.stdout.strip().split("ETCD_ENDPOINT=")[1].split()[0]
procs = []


def stop_all():
    for p in procs:
        p.stop()
    subprocess.run([os.path.join(HERE, "etcd.sh"), "stop", os.path.join(T, "etcd")], capture_output=True)


def start_node(i):
    n = Server(VS, os.path.join(T, "n%d" % i), "--model", MODEL, "--index", "Flat", "--cluster", ETCD, "--node-id",
               "n%d" % i, "--ttl", "2")
    procs.append(n)
    return n


class RouterProc:
    def __init__(self):
        port_file = os.path.join(T, "router.port")
        self.log = open(os.path.join(T, "router.log"), "ab")
        self.proc = subprocess.Popen([VS, "route", "--cluster", ETCD, "--port", "0", "--port-file", port_file,
                                      "--attempt-timeout", "500"], stdout=self.log, stderr=self.log)
        for _ in range(600):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
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

    def wait_live(n):
        for _ in range(200):
            if live_count() == n:
                return True
            time.sleep(0.1)
        return False

    check(wait_live(4), "4 replicas registered")

    def both(method, path, body=None, raw=None):
        return R.request(method, path, body, raw), S.request(method, path, body, raw)

    def node_has(i, doc_id):
        status, _ = nodes[i].request("GET", "/documents/" + urllib.parse.quote(str(doc_id), safe=""))
        return status == 200

    def same_write(path, body, what, raw=None, fields=("added", "total", "ids", "skipped")):
        (rs, r), (ss, s) = both("POST", path, body, raw)
        view = {k: r.get(k) for k in fields if k in r} if isinstance(r, dict) else r
        s = {k: s.get(k) for k in fields if k in s} if isinstance(s, dict) else s
        check(rs == ss == 200 and view == s, what + ": the router answers as one server", rs, r, ss, s)
        check(r["partial"] is False and r["missing_shards"] == [] and r["failed_replicas"] == [],
              what + ": every shard took its part", r)
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
    r = same_write("/index", {"documents": [{"text": "mat"}, {"text": "qqqzzz"}, {"text": "big dog"}],
                              "skip_empty": True}, "{documents, skip_empty} with a text of no known word",
                   fields=("added", "total", "skipped"))
    # the router reserved an id for the skipped text too (ids are unique, not dense)
    check(r["skipped"] == [1] and r["added"] == 2 and r["ids"] == [103, 105], "skipped names the request's position", r)
    S.ok("DELETE", "/documents/104")  # the single server gave "big dog" 104: make it 105 there too
    S.ok("POST", "/index", [{"id": 105, "text": "big dog"}])
    # automatic ids from two routers never collide: a second router on the same etcd
    rp2 = RouterProc.__new__(RouterProc)
    port2 = os.path.join(T, "router2.port")
    rp2.log = open(os.path.join(T, "router2.log"), "ab")
    rp2.proc = subprocess.Popen([VS, "route", "--cluster", ETCD, "--port", "0", "--port-file", port2], stdout=rp2.log,
                                stderr=rp2.log)
    procs.append(rp2)
    for _ in range(600):
        if os.path.exists(port2) and open(port2).read().strip():
            break
        time.sleep(0.05)
    R2 = Remote("http://127.0.0.1:%s" % open(port2).read().strip())
    for _ in range(100):
        if R2.request("GET", "/stats")[0] == 200:
            break
        time.sleep(0.1)
    a = R.ok("POST", "/index", ["cat"] * 3)["ids"]
    b = R2.ok("POST", "/index", ["dog"] * 3)["ids"]
    c = R.ok("POST", "/index", ["mat"])["ids"]
    check(len(set(a + b + c)) == 7 and min(a + b + c) > 102, "two routers hand out distinct automatic ids", a, b, c)
    S.ok("POST", "/index", [{"id": i, "text": t} for i, t in zip(a + b + c, ["cat"] * 3 + ["dog"] * 3 + ["mat"])])

    # refusals: the same status and error code as one server, and nothing stored anywhere
    before = R.ok("GET", "/stats")["total_vectors"]
    bad = [([], None), ([1, 2], None), (["cat", {"text": "dog"}], None), ({"texts": ["a"], "documents": []}, None),
           ({"texts": ["cat"], "extra": 1}, None), ({"texts": []}, None), ({"texts": ["cat", 3]}, None),
           ([{"id": 1, "text": "cat"}, {"text": "dog"}], None), ([{"id": -1, "text": "cat"}], None),
           ([{"id": "", "text": "cat"}], None), ([{"id": 5, "text": "cat", "colour": 1}], None),
           ([{"id": 5, "text": "cat", "metadata": 3}], None), ({"texts": ["cat"], "skip_empty": 1}, None),
           (None, '{"texts": ["cat"'), (None, '["cat", "zzqqxx", "dog"]'),
           ([{"id": 0, "text": "cat"}], None)]  # id 0 exists: 409 on its shard
    for body, raw in bad:
        (rs, r), (ss, s) = both("POST", "/index", body, raw)
        rc = r.get("error", {}).get("code") if isinstance(r, dict) else r
        sc = s.get("error", {}).get("code") if isinstance(s, dict) else s
        check(rs == ss and rs >= 400 and rc == sc, "refused as one server: %s" % (raw or json.dumps(body)), rs, r, ss, s)
    after = R.ok("GET", "/stats")["total_vectors"]
    check(after == before, "refused writes stored nothing", before, after)

    # --- POST /vectors without ids: automatic ids too ---------------------------------------
    dim = S.ok("GET", "/stats")["dimension"]
    vec = [0.1] * dim
    r = R.ok("POST", "/vectors", {"vectors": [vec, vec]})
    check(r["added"] == 2 and len(set(r["ids"])) == 2 and min(r["ids"]) > max(a + b + c), "POST /vectors without ids", r)
    # ids reserved for refused requests are not given out again: unique, not dense
    check(S.ok("POST", "/vectors", {"vectors": [vec, vec], "ids": r["ids"]})["total"] == r["total"],
          "POST /vectors: total as one server")

    # --- searches see the documents ---------------------------------------------------------
    (rs, r), (ss, s) = both("POST", "/search", {"query": "the big cat", "k": 3})
    check(rs == ss == 200 and [h["id"] for h in r["results"]] == [h["id"] for h in s["results"]],
          "text search through the router = one server's", r, s)

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
    check(rs == ss == 200 and r["deleted"] == s["deleted"] == "doc-a/b" and r["total"] == s["total"],
          "DELETE: deleted and total as one server", r, s)
    check(len(holders) == 2 and not any(node_has(n, "doc-a/b") for n in holders), "deleted on both replicas", holders)
    (rs, r), (ss, s) = both("DELETE", "/documents/doc-a%2Fb")
    check(rs == ss == 404 and r["error"]["code"] == s["error"]["code"], "a second DELETE is a 404 as one server", r, s)

    # --- /stats, /collections, /health, unknown parameters ----------------------------------
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
    for method, p in (("GET", "/stats?x=1"), ("POST", "/index?k=1"), ("GET", "/documents/3?x=1"),
                      ("DELETE", "/documents/3?verbose=1"), ("GET", "/collections?all=1"), ("POST", "/save?force=1"),
                      ("GET", "/stats?path=x")):
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
          "vecscale_http_in_flight 1\n" in m,
          "GET /metrics on the router: requests by route and code, histograms, in flight", ctype, m[:1500])

    # --- collections created and dropped on every shard ----------------------------------------
    spec = {"name": "books", "model": MODEL, "index": "Flat"}
    (rs, r), (ss, s) = both("POST", "/collections", spec)
    check(rs == ss == 201 and all(r[k] == s[k] for k in ("name", "total_vectors", "dimension", "model")) and
          all(nodes[i].request("GET", "/collections/books")[0] == 200 for i in range(4)),
          "POST /collections: created on every node, answered as one server", r, s)
    (rs, r), (ss, s) = both("POST", "/collections", spec)
    check(rs == ss == 409 and r["error"]["code"] == s["error"]["code"], "creating it again: 409 as one server", r, s)
    r = same_write("/collections/books/index", ["cat on the mat", "a big dog", "sat"], "/collections/books/index")
    check(r["ids"] == [0, 1, 2], "a new collection's automatic ids start at 0, as one server", r)
    (rs, r), (ss, s) = both("POST", "/collections/books/search", {"query": "big dog", "k": 1})
    check(rs == ss == 200 and r["results"][0]["id"] == s["results"][0]["id"], "search in the new collection", r, s)
    st, r = R.request("GET", "/collections")
    check(sorted(c["name"] for c in r["collections"]) == ["books", "default"], "the listing has both", r)
    (rs, r), (ss, s) = both("DELETE", "/collections/books")
    check(rs == ss == 200 and r["deleted"] == s["deleted"] == "books" and
          all(nodes[i].request("GET", "/collections/books")[0] == 404 for i in range(4)),
          "DELETE /collections/books: dropped on every node", r, s)
    (rs, r), (ss, s) = both("GET", "/collections/books/stats")
    check(rs == ss == 404 and r["error"]["code"] == s["error"]["code"], "a dropped collection is 404 as one server", r, s)
    (rs, r), (ss, s) = both("POST", "/collections", {"name": "bad name!", "dimension": 4})
    check(rs == ss == 400 and r["error"]["code"] == s["error"]["code"] and
          all(nodes[i].request("GET", "/collections/bad%20name!")[0] == 404 for i in range(4)),
          "a refused create creates nothing", r, s)

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
    # a delete while a replica is down: applied by its peer, queued for it, replayed on return
    victim_shard = victim // 2
    on_shard = [i for i in a + b + c if node_has(holder[1], i)]
    gone = on_shard[0]
    r = R.ok("DELETE", "/documents/%d" % gone)
    S.ok("DELETE", "/documents/%d" % gone)
    check(r["queued_for"] == ["n%d" % victim] and not node_has(holder[1], gone), "DELETE with a replica down: queued for it", r)
    r = R.ok("GET", "/stats")
    check(r["partial"] is False and r["total_vectors"] == S.ok("GET", "/stats")["total_vectors"],
          "/stats with one replica down: full", r)
    nodes[victim] = start_node(victim)
    check(wait_live(4), "the replica is back")
    for _ in range(100):
        if not node_has(victim, gone):
            break
        time.sleep(0.1)
    check(not node_has(victim, gone) and node_has(victim, doc), "the queued delete replayed on the restarted replica")

    # both replicas of one shard down: partial answers name it
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
    st, r = R.request("POST", "/index", ["cat", "dog", "mat", "big cat", "sat", "a dog", "the cat", "dog dog"])
    check(st == 503 and r["missing_shards"] == [other] and r["partial"] is True and 0 < r["added"] < 8 and
          len(r["ids"]) == r["added"], "/index with a shard down: 503, names it, says what was added", r)
    missing_doc = next(i for i in a + b + c + [0, 1, 2, 3, 4, 5] if i != gone and not node_has(2 * victim_shard, i))
    st, r = R.request("GET", "/documents/%d" % missing_doc)
    check(st == 503 and r["error"]["code"] == "shard_unavailable", "GET of a document on the down shard: 503", r)
    check(R.ok("GET", "/health")["shards_live"] == 1, "/health counts the live shards")

    # etcd away: writes that bring their ids go on (the router owes etcd the largest id), those
    # that need automatic ids are refused with the reason, and nothing crashes
    subprocess.run([os.path.join(HERE, "etcd.sh"), "stop", os.path.join(T, "etcd")], capture_output=True, check=True)
    codes = [R.request("POST", "/index", [{"id": i, "text": "cat"}])[0] for i in range(5000, 5008)]
    check(200 in codes and set(codes) <= {200, 503}, "etcd away: documents with ids still indexed on the live shard", codes)
    st, r = R.request("POST", "/index", ["cat"])
    check(st == 503 and r["error"]["code"] == "ids_unavailable" and "etcd" in r["error"]["message"],
          "etcd away: automatic ids refused with the reason", st, r)
    print("all ok", flush=True)
finally:
    stop_all()
