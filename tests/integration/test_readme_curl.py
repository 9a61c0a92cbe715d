#!/usr/bin/python3
"""Documentation that runs: every `curl` line in README.md's code blocks, pasted in order against
a server shaped like the one scripts/run.sh serves (the default collection, glove-100-sif, HNSW16,
WordNet synsets as documents "words: gloss" with metadata pos/synset/words, made by
scripts/wordnet_batches.awk) but over a sample of 700 synsets instead of all 117,659, so it
takes seconds. The README's host:port (127.0.0.1:8000) is replaced by the test server's.

Checked for each line: no placeholder ("..."), no other host, the HTTP status, and the reply's
key fields for its route (a line whose route has no check here fails: add one). Document IDs in
the examples must not exist in the full WordNet collection (counted from the same WordNet
files), filters may only name metadata fields the WordNet documents carry and must match
something. The whole block is then pasted a second time: it must work again.
VS_README_WORDNET=full indexes all of WordNet instead, exactly the collection run.sh serves.
Usage: test_readme_curl.py VECSCALE SOURCE-ROOT TMPDIR"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

VS, ROOT, T = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
README_HOST = "127.0.0.1:8000"
WORDNET = ["/usr/share/wordnet/data." + p for p in ("noun", "verb", "adj", "adv")]
SAMPLE_EVERY = {"noun": 250, "verb": 100, "adj": 120, "adv": 40}  # about 700 synsets, every part of speech
if os.environ.get("VS_README_WORDNET") == "full":  # the whole of run.sh's collection (minutes)
    SAMPLE_EVERY = dict.fromkeys(SAMPLE_EVERY, 1)

shutil.rmtree(T, ignore_errors=True)
os.makedirs(T)


def readme_examples():
    """(line number, text, argv) of every line starting with `curl` inside a fenced block, except
    in the "Deploy" section: those address the compose deployment's router, and
    tests/deploy/test_compose.py drives that deployment with the same requests."""
    out, fenced, deploy = [], False, False
    with open(os.path.join(ROOT, "README.md")) as f:
        for no, line in enumerate(f, 1):
            if line.startswith("## "):
                deploy = line.strip() == "## Deploy"
            if deploy:
                continue
            if line.startswith("```"):
                fenced = not fenced
            elif fenced and line.lstrip().startswith("curl "):
                out.append((no, line.strip(), shlex.split(line, comments=True)))
    return out


def wordnet_sample():
    """The sampled data.* files (licence header kept, as the awk script expects) and the number
    of synsets in the full files (the IDs run.sh gives are 0 .. that number - 1)."""
    full, paths = 0, []
    for src in WORDNET:
        pos = src.rsplit(".", 1)[1]
        dst = os.path.join(T, "data." + pos)
        n = 0
        with open(src, errors="replace") as fin, open(dst, "w") as fout:
            for line in fin:
                if line.startswith("  "):
                    fout.write(line)
                    continue
                if n % SAMPLE_EVERY[pos] == 0:
                    fout.write(line)
                n += 1
        full += n
        paths.append(dst)
    return paths, full


def body_of(argv):
    for i, a in enumerate(argv):
        if a in ("-d", "--data", "--data-binary", "--data-raw"):
            return json.loads(argv[i + 1])
    return None


def method_url(argv):
    method = argv[argv.index("-X") + 1] if "-X" in argv else ("POST" if body_of(argv) is not None else "GET")
    urls = [a for a in argv if a.startswith(README_HOST) or a.startswith("http")]
    return method, urls[0] if urls else ""


def static_checks(examples, full_count, fields):
    check(len(examples) >= 10, "README has curl examples (%d)" % len(examples))
    for no, text, argv in examples:
        where = "README.md:%d" % no
        check("..." not in " ".join(argv) and "…" not in text, where + ": no placeholder", text)
        method, url = method_url(argv)
        check(url.startswith(README_HOST + "/"), where + ": addresses " + README_HOST, text)
        body = body_of(argv)
        ids = [int(m) for m in re.findall(r"/documents/(\d+)", url)]
        docs = body if isinstance(body, list) else (body or {}).get("documents", []) if isinstance(body, dict) else []
        ids += [d["id"] for d in docs if isinstance(d, dict) and "id" in d]
        if "/collections/" not in url:  # IDs of the WordNet collection, not of a collection the examples make
            for i in ids:
                check(i >= full_count, "%s: id %d is not one of the %d WordNet documents" % (where, i, full_count), text)
        flt = (body or {}).get("filter") if isinstance(body, dict) else None
        for key in (flt or {}):
            check(key in fields, "%s: filter field '%s' is a WordNet metadata field %s" % (where, key, sorted(fields)), text)


def run(argv, port):
    args = [a.replace(README_HOST, "127.0.0.1:%d" % port) for a in argv]
    out = subprocess.run(args + ["-w", "\n%{http_code}"], capture_output=True, text=True, timeout=300)
    text, _, code = out.stdout.rpartition("\n")
    if out.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(args), out.returncode, out.stderr))
    try:
        reply = json.loads(text)
    except ValueError:
        reply = text
    return int(code), reply


def expect(method, url, body, text, status, reply, server):
    """The status and key fields each documented route must answer."""
    path = url[len(README_HOST):].split("?")[0]
    route = re.sub(r"^/collections/[A-Za-z0-9_-]+(?=/|$)", "/collections/{name}", path)
    route = re.sub(r"/documents/\d+$", "/documents/{id}", route)
    ok = {("POST", "/collections"): 201}.get((method, route), 200)
    check(status == ok, "%s %s -> %d" % (method, path, ok), status, reply)
    if (method, route) in (("POST", "/search"), ("POST", "/collections/{name}/search")):
        res = reply["results"]
        if "warning" in text:
            check(res == [] and reply["warning"]["code"] == "no_known_word", "  no results and a no_known_word warning", reply)
        else:
            check(res and "warning" not in reply and len(res) <= body["k"], "  results, no warning", reply)
            for key, val in (body.get("filter") or {}).items():
                check(all((h["metadata"] or {}).get(key) == val for h in res), "  every hit has %s = %s" % (key, val), reply)
    elif (method, route) == ("POST", "/search/batch"):
        check(len(reply["results"]) == len(body["queries"]) and all(q["results"] for q in reply["results"]),
              "  results for every query", reply)
    elif (method, route) in (("POST", "/index"), ("POST", "/collections/{name}/vectors")):
        n = len(body) if isinstance(body, list) else len(body.get("documents") or body.get("texts") or body.get("vectors"))
        check(reply["added"] == n and len(reply["ids"]) == n and reply["total"] >= n, "  added %d, total, ids" % n, reply)
    elif (method, route) == ("GET", "/documents/{id}"):
        check(reply["id"] == int(path.rsplit("/", 1)[1]) and reply["text"] and len(reply["vector"]) == 100, "  text and vector", reply)
    elif (method, route) == ("DELETE", "/documents/{id}"):
        check(reply["deleted"] == int(path.rsplit("/", 1)[1]), "  deleted", reply)
    elif (method, route) == ("GET", "/stats"):
        check(reply["total_vectors"] > 0 and reply["dimension"] == 100 and reply["index_type"].startswith("HNSW16"), "  stats", reply)
    elif (method, route) == ("POST", "/save"):
        check(reply["saved"] is True, "  saved", reply)
        name = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&")).get("path") if "?" in url else None
        if name:
            where = os.path.join(server.data, "exports", name, "collections", "default", "collection.vsc")
            check(reply["export"]["path"] == os.path.realpath(os.path.join(server.data, "exports", name))
                  and os.path.exists(where), "  exported to DATA/exports/" + name, reply)
    elif (method, route) == ("POST", "/collections"):
        check(reply["name"] == body["name"] and reply["dimension"] == body["dimension"], "  created", reply)
    elif (method, route) == ("DELETE", "/collections/{name}"):
        check(reply["deleted"] == path.rsplit("/", 1)[1], "  deleted", reply)
    elif (method, route) == ("GET", "/metrics"):
        check("vecscale_http_requests_total" in reply or "vecscale_http" in reply, "  Prometheus text", reply[:300])
    else:
        raise AssertionError("no check for %s %s (README: %s): add one to %s" % (method, route, text, __file__))


def main():
    if subprocess.run([VS, "model", "info", "glove-100-sif"], capture_output=True).returncode:
        raise AssertionError("model glove-100-sif not found: run scripts/fetch_models.sh (scripts/test.sh does)")
    files, full_count = wordnet_sample()
    batch = os.path.join(T, "batch")
    subprocess.run(["awk", "-v", "prefix=" + batch, "-v", "batch=5000", "-f", os.path.join(ROOT, "scripts/wordnet_batches.awk"),
                    *files], check=True, capture_output=True)
    data = os.path.join(T, "data")
    s = Server(VS, data, "--host", "127.0.0.1", "--model", "glove-100-sif", "--index", "HNSW16")  # as scripts/run.sh
    try:
        added = 0
        for name in sorted(os.listdir(T)):
            if name.startswith("batch."):
                with open(os.path.join(T, name)) as f:
                    added += s.ok("POST", "/index", raw=f.read())["added"]
        check(added > 600, "WordNet sample indexed as run.sh does (%d synsets)" % added)
        s.ok("POST", "/save")
        fields = set()
        for i in range(0, added, max(1, added // 20)):
            fields |= set((s.ok("GET", "/documents/%d" % i)["metadata"] or {}).keys())
        check(fields >= {"pos"}, "WordNet metadata fields: %s" % sorted(fields))
        examples = readme_examples()
        static_checks(examples, full_count, fields)
        for round_ in (1, 2):
            for no, text, argv in examples:
                method, url = method_url(argv)
                print("README.md:%d (pass %d): %s" % (no, round_, text[:110]), flush=True)
                status, reply = run(argv, s.port)
                expect(method, url, body_of(argv), text, status, reply, s)
        check(s.stop() == 0, "server stops cleanly")
    except BaseException:
        s.stop()
        print("server log:\n" + s.log(), file=sys.stderr)
        raise
    shutil.rmtree(T, ignore_errors=True)
    print("all checks passed")


main()
