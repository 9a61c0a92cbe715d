#!/usr/bin/python3
"""The seed's request shapes and the parameters the server must never ignore (issue 14), against
a real `vecscale serve` over a GloVe model made from the tiny fixture (so it has the fallback
vector for texts with no known word, as glove-100 does):
  - POST /index takes a bare array of texts and a bare array of documents, answers added/total/ids;
  - a text with no known word is a 400 empty_embedding on /index, and an empty result with a
    "warning" on /search and /search/batch (never the fallback vector's neighbours);
  - POST /save's path (query string or body) names an export inside the data directory, which
    another server and `vecscale search` open; an absolute path, '..', a separator, ... is a 400
    saying why, and nothing is written anywhere;
  - every route refuses an unknown query parameter by name and does nothing;
  - `vecscale route` without --nats (the write log) refuses to start.
Usage: test_server_seed.py VECSCALE SOURCE-DIR TMPDIR"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

VS, SRC, T = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
shutil.rmtree(T, ignore_errors=True)
os.makedirs(T)
MODEL = os.path.join(T, "tiny.vsm")
subprocess.run([VS, "model", "import-glove", "--input", os.path.join(SRC, "fixtures/embed/glove_tiny.txt"),
                "--output", MODEL], check=True, capture_output=True)
DATA = os.path.join(T, "data")
s = Server(VS, DATA, "--model", MODEL, "--index", "HNSW8")


def seed_shapes():
    r = s.ok("POST", "/index", ["cat", "dog dog"])
    check(r == {"added": 2, "total": 2, "ids": [0, 1]}, "bare array of texts: added, total, ids", r)
    r = s.ok("POST", "/index", [{"id": 10, "text": "the big cat", "metadata": {"size": "big"}}, {"id": 11, "text": "sat"}])
    check(r == {"added": 2, "total": 4, "ids": [10, 11]}, "bare array of documents keeps ids and metadata", r)
    r = s.ok("POST", "/index", [{"text": "mat"}])
    check(r["added"] == 1 and r["total"] == 5 and len(r["ids"]) == 1, "bare array of documents without ids", r)
    d = s.ok("GET", "/documents/10")
    check(d["text"] == "the big cat" and d["metadata"] == {"size": "big"}, "a bare-array document is stored whole", d)
    r = s.ok("POST", "/collections", {"name": "words", "model": MODEL, "index": "Flat"}, status=201)
    r = s.ok("POST", "/collections/words/index", ["cat", "mat"])
    check(r == {"added": 2, "total": 2, "ids": [0, 1]}, "bare array under /collections/{name}/index", r)
    for body, code, needle in [
            ("[]", "bad_request", "empty array"),
            ('["cat", {"text": "dog"}]', "bad_request", "element 1 of the body is an object, element 0 a string"),
            ('[{"text": "dog"}, "cat"]', "bad_request", "element 1 of the body is a string"),
            ("[3]", "bad_request", "element 0 is a number"),
            ('[["cat"]]', "bad_request", "element 0 is an array"),
            ('"cat"', "invalid_json", "an array of texts"),
            ('[{"id": 20, "text": "cat"}, {"text": "dog"}]', "bad_request", "every document has an 'id' or none"),
            ('[{"text": "cat", "colour": 1}]', "unknown_field", "colour"),
            ('[{"id": 0, "text": "cat"}]', "duplicate_id", None),
            ('["cat", "zebra quux"]', "empty_embedding", "text 1"),
            ('[{"text": "zebra"}]', "empty_embedding", "text 0"),
            ('{"texts": ["cat"], "documents": []}', "bad_request", "exactly one"),
            ('{"texts": ["cat"], "skip_empty": 1}', "bad_request", "skip_empty")]:
        s.error("POST", "/index", raw=body, status=409 if code == "duplicate_id" else 400, code=code, needle=needle)
        check(True, "POST /index %s -> %s" % (body, code))
    check(s.ok("GET", "/stats")["total_vectors"] == 5, "refused bodies added nothing")
    r = s.ok("POST", "/index", {"texts": ["zebra quux", "sat", "qqq"], "skip_empty": True})
    check(r["added"] == 1 and r["skipped"] == [0, 2] and r["total"] == 6, "skip_empty leaves out texts with no known word", r)


def no_known_word():
    for path in ("/search", "/collections/words/search"):
        r = s.ok("POST", path, {"query": "zebra quux", "k": 3})
        check(r["results"] == [] and r["warning"]["code"] == "no_known_word" and "knows none" in r["warning"]["message"],
              "%s: a query with no known word answers no results and a warning" % path, r)
    r = s.ok("POST", "/search", {"query": "zebra cat", "k": 1})
    check("warning" not in r and r["results"][0]["id"] == 0, "one known word is enough to search", r)
    r = s.ok("POST", "/search", {"query": "cat", "k": 2, "nprobe": 4})
    check("warning" not in r and r["results"][0]["text"] == "cat", "{query, k, nprobe}: the seed's search shape", r)
    r = s.ok("POST", "/search/batch", {"queries": ["cat", "zebra", "dog"], "k": 1})
    got = r["results"]
    check(got[0]["results"][0]["id"] == 0 and "warning" not in got[0], "batch: known query answered", r)
    check(got[1]["results"] == [] and got[1]["warning"]["code"] == "no_known_word", "batch: unknown query warned", r)
    check(got[2]["results"][0]["id"] == 1 and "warning" not in got[2], "batch: the query after it answered", r)
    r = s.ok("POST", "/search", {"vector": [1, 0, 0, 0], "k": 1})
    check("warning" not in r and r["results"][0]["id"] == 0, "vector queries carry no warning", r)


def exports_dir():
    return os.path.join(DATA, "exports")


def listing(path):
    out = []
    for root, dirs, files in os.walk(path):
        out += [os.path.relpath(os.path.join(root, f), path) for f in files]
    return sorted(out)


def named_saves():
    outside = os.path.join(T, "outside")
    gen = s.ok("GET", "/stats")["snapshot_generation"]
    bad = [("/save?path=" + outside, None, "is an absolute path"),
           ("/save", {"path": outside}, "is an absolute path"),
           ("/save?path=../outside", None, "contains '..'"),
           ("/save", {"path": "../../outside"}, "contains '..'"),
           ("/save?path=a..b", None, "contains '..'"),
           ("/save?path=a%2Fb", None, "contains a path separator"),
           ("/save", {"path": "a/b"}, "contains a path separator"),
           ("/save", {"path": "a\\b"}, "contains a path separator"),
           ("/save?path=.hidden", None, "starts with '.'"),
           ("/save?path=", None, "is empty"),
           ("/save?path", None, "is empty"),
           ("/save?path=" + "x" * 65, None, "longer than 64"),
           ("/save?path=a%20b", None, "character other than"),
           ("/save", {"path": 7}, "must be a string"),
           ("/save?path=x", {"path": "x"}, "both in the query string and in the body"),
           ("/collections/words/save?path=/tmp", None, "is an absolute path")]
    for path, body, needle in bad:
        err = s.error("POST", path, body, status=400, code="invalid_path", needle=needle)
        check("data directory" in err["message"] or "once" in err["message"] or "string" in err["message"],
              "POST %s %s -> 400 invalid_path (%s)" % (path, body, needle), err)
    s.error("POST", "/save?path=x&path=y", status=400, code="invalid_parameter", needle="given twice")
    s.error("POST", "/save?paths=x", status=400, code="unknown_parameter", needle="'paths'")
    s.error("POST", "/save", {"paths": "x"}, status=400, code="unknown_field", needle="paths")
    check(not os.path.exists(outside) and not os.path.exists(os.path.join(T, "a")) and listing(exports_dir()) == [],
          "refused saves wrote nothing, outside or inside the data directory", listing(T))
    check(s.ok("GET", "/stats")["snapshot_generation"] == gen, "refused saves took no snapshot")

    r = s.ok("POST", "/save?path=snap-1.v2")
    e = r.get("export", {})
    root = os.path.join(os.path.realpath(exports_dir()), "snap-1.v2")
    check(r["saved"] and r["total_vectors"] == 6 and e.get("path") == root and e.get("collection") == "default"
          and e.get("replaced") is False and e.get("serve") == "vecscale serve --data " + root
          and e.get("search") == "vecscale search --index %s/collections/default" % root,
          "save?path=NAME exports to DATA/exports/NAME and says how to open it", r)
    files = listing(root)
    check(files and all(f.startswith("collections/default/") for f in files) and "collections/default/collection.vsc" in files
          and not any("wal-" in f or f.endswith("LOCK") for f in files), "the export holds the snapshot, not the log", files)
    r = s.ok("POST", "/collections/words/save", {"path": "snap-1.v2"})
    check(r["export"]["collection"] == "words" and r["export"]["replaced"] is False, "body path; a second collection joins the export", r)
    s.ok("POST", "/index", ["dog sat"])
    r = s.ok("POST", "/save", {"path": "snap-1.v2"})
    check(r["export"]["replaced"] is True and r["total_vectors"] == 7, "saving under the same name replaces that collection's export", r)
    s.ok("POST", "/index", ["the mat"])  # after the export: must not be in it
    s.ok("DELETE", "/documents/10")
    check(s.ok("GET", "/stats")["total_vectors"] == 7, "writes after the export go on")

    out = subprocess.run([VS, "search", "--index", os.path.join(root, "collections/default"), "--query", "big cat", "-k", "1",
                          "--json"], capture_output=True, text=True)
    check(out.returncode == 0 and '"id":10' in out.stdout, "vecscale search opens the exported collection", out.stdout, out.stderr)
    e2 = Server(VS, root)
    try:
        st = e2.ok("GET", "/stats")
        check(st["total_vectors"] == 7, "vecscale serve --data EXPORT serves the state at the save", st)
        check(e2.ok("GET", "/documents/10")["text"] == "the big cat", "a document deleted after the export is in it")
        check(e2.ok("GET", "/collections/words/stats")["total_vectors"] == 2, "the other collection's export is served too")
        r = e2.ok("POST", "/search", {"query": "cat", "k": 1})
        check(r["results"][0]["id"] == 0, "the export answers text queries", r)
        r = s.ok("POST", "/save?path=snap-1.v2", status=409)
        check(r["saved"] is True and r["error"]["code"] == "export_failed" and "open in another process" in r["error"]["message"]
              and "export" not in r, "an export a server has open is not replaced under it (409, the save stands)", r)
        check(e2.ok("GET", "/documents/10")["text"] == "the big cat", "the export's server still answers")
    finally:
        check(e2.stop() == 0, "export server stops cleanly")
    r = s.ok("POST", "/collections/words/save?path=snap-1.v2")
    check(r["export"]["replaced"] is True, "once it is closed, the export can be replaced", r)
    with open(os.path.join(exports_dir(), "blocked"), "w") as f:  # a file where the export's directory goes
        f.write("not a directory")
    gen = s.ok("GET", "/stats")["snapshot_generation"]
    r = s.ok("POST", "/save?path=blocked", status=500)
    check(r["saved"] is True and r["snapshot_generation"] == gen + 1 and r["error"]["code"] == "export_failed"
          and "DATA/exports/blocked" in r["error"]["message"] and "export" not in r,
          "an export that cannot be written: 500 export_failed naming it, the snapshot taken", r)
    left = sorted(n for n in os.listdir(exports_dir()) if not n.endswith((".port", ".log")))  # the test's own files
    check(left == ["blocked", "snap-1.v2"], "a failed export leaves no staging behind", left)
    check(s.ok("GET", "/stats")["total_vectors"] == 7 and s.request("GET", "/documents/10")[0] == 404,
          "serving the export changed nothing in the live collection")


def unknown_query_parameters():
    before = s.ok("GET", "/stats")
    routes = [("GET", "/", None), ("GET", "/health", None), ("GET", "/openapi.json", None), ("GET", "/metrics", None),
              ("GET", "/stats", None), ("GET", "/collections", None), ("GET", "/collections/words", None),
              ("GET", "/collections/words/stats", None),
              ("POST", "/collections", {"name": "nope", "dimension": 4}),
              ("DELETE", "/collections/words", None),
              ("POST", "/search", {"query": "cat"}), ("POST", "/search", {"vector": [1, 0, 0, 0]}),
              ("POST", "/search/batch", {"queries": ["cat"]}), ("POST", "/collections/words/search", {"query": "cat"}),
              ("POST", "/index", ["cat"]), ("POST", "/vectors", {"vectors": [[1, 0, 0, 0]]}),
              ("GET", "/documents/0", None), ("DELETE", "/documents/0", None), ("POST", "/collections/words/index", ["cat"])]
    for method, path, body in routes:
        for query, names in (("?k=3", "'k'"), ("?limit=1&verbose", "'limit', 'verbose'")):
            err = s.error(method, path + query, body, status=400, code="unknown_parameter", needle=names)
            check("takes no query parameters" in err["message"], "%s %s%s -> 400 naming %s" % (method, path, query, names), err)
    after = s.ok("GET", "/stats")
    check(after["total_vectors"] == before["total_vectors"] and s.ok("GET", "/documents/0")["text"] == "cat"
          and s.ok("GET", "/collections/words/stats")["total_vectors"] == 2 and s.request("GET", "/collections/nope")[0] == 404,
          "refused requests changed nothing", before, after)


def openapi_describes_it():
    doc = s.ok("GET", "/openapi.json")
    sc = doc["components"]["schemas"]
    shapes = sc["IndexRequest"]["oneOf"]
    check([x["type"] for x in shapes] == ["object", "array", "array"] and shapes[1]["items"] == {"type": "string"}
          and shapes[2]["items"] == {"$ref": "#/components/schemas/Document"}, "OpenAPI: /index's three body shapes", shapes)
    check("added" in sc["AddResponse"]["required"] and "total" in sc["AddResponse"]["required"], "OpenAPI: added and total")
    check(sc["SearchResponse"]["properties"]["warning"] == {"$ref": "#/components/schemas/Warning"}
          and sc["Warning"]["properties"]["code"]["enum"] == ["no_known_word"], "OpenAPI: the search warning")
    for path in ("/save", "/collections/{name}/save"):
        op = doc["paths"][path]["post"]
        params = [x for x in op["parameters"] if x["in"] == "query"]
        check([x["name"] for x in params] == ["path"] and op["requestBody"]["required"] is False
              and "export" in op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
              and "invalid_path" in op["responses"]["400"]["description"], "OpenAPI: %s's path and export" % path, op)
    import re
    pat = re.compile(sc["ExportName"]["pattern"])
    check([bool(pat.match(x)) for x in ("snap-1.v2", "a..b", ".x", "a/b", "x" * 64, "x" * 65, "/tmp")] ==
          [True, False, False, False, True, False, False], "OpenAPI: the ExportName pattern is the server's rule")
    check("unknown_parameter" in doc["info"]["description"], "OpenAPI: unknown query parameters are refused")


def router_needs_the_log():
    """`vecscale route` without --nats refuses to start, saying why (its writes go through the
    cluster's replicated log; its routes, query-parameter rule and the search warning are tested
    on the log in test_cluster_api.py)."""
    out = subprocess.run([VS, "route", "--cluster", "http://127.0.0.1:1", "--port", "0"], capture_output=True, text=True,
                         timeout=30)
    check(out.returncode == 2 and "--nats" in out.stderr and "log" in out.stderr,
          "route without --nats: exit 2 naming --nats", out.returncode, out.stderr)


try:
    seed_shapes()
    no_known_word()
    named_saves()
    unknown_query_parameters()
    openapi_describes_it()
    check(s.stop() == 0, "server stops cleanly")
    router_needs_the_log()
except BaseException:
    s.stop()
    print("server log:\n" + s.log(), file=sys.stderr)
    raise
shutil.rmtree(T, ignore_errors=True)
print("all checks passed")
