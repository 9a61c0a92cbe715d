#!/usr/bin/python3
"""Crash rounds with the seed's request shapes, black box (standard library only): clients stream
bare arrays of texts to POST /index (the seed's shape, automatic IDs) and bare arrays of documents
with IDs to /collections/docs/index, while another client searches with {"query", "k", "nprobe"},
reads /stats and calls /save; the server is killed with SIGKILL in the middle, restarted, and
checked: every acknowledged document is there with its text (0 lost), no text is stored twice and
nothing that was never sent appears (0 duplicated), documents in flight at the kill are there at
most once, acknowledged documents are found by searching their text, /stats counts exactly the
documents there are. 5 rounds by default, then a clean stop (SIGTERM, exit 0) and a last check.

Shapes are listed in SHAPES: each names its collection and how a sequence number becomes a
request element and (for client-chosen IDs) an ID. String IDs (issue 14, "strids") are one more
entry, e.g. ("strdocs", lambda n: "doc-%d" % n): IDs are URL-encoded wherever they go in a path,
so nothing else changes.
Usage: test_seed_crash.py VECSCALE TMPDIR [ROUNDS] [SEED]"""
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

VS, T = sys.argv[1], os.path.abspath(sys.argv[2])
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else int(time.time())
INDEX = "HNSW16"
print("seed %d, %d rounds, index %s" % (SEED, ROUNDS, INDEX), flush=True)
rng = random.Random(SEED)

# Four disjoint word lists: the text of n takes one word from each by n's base-25 digits, so
# texts are distinct and, since an averaged embedding ignores word order, so are their vectors.
WORDS = [
    "apple bread cheese dinner egg flour grape honey juice lemon melon noodle olive pepper rice salt sugar tea "
    "tomato onion garlic butter cream soup cake".split(),
    "river mountain forest desert ocean valley island lake meadow canyon beach cliff glacier swamp prairie hill "
    "cave volcano harbor bay creek pond reef delta plateau".split(),
    "doctor teacher farmer sailor pilot lawyer baker painter singer dancer writer nurse soldier miner hunter "
    "fisher driver judge priest poet tailor clerk chef actor banker".split(),
    "red blue green yellow purple orange black white silver golden brown pink gray violet crimson scarlet "
    "amber ivory olive navy maroon teal beige coral bronze".split(),
]


def text_of(n):
    return " ".join(WORDS[p][(n // 25 ** p) % 25] for p in range(4))


# name -> (collection prefix, ID of sequence number n or None for automatic IDs)
SHAPES = {
    "texts": ("", None),                            # the seed's bare array of strings
    "docs": ("/collections/docs", lambda n: n),     # a bare array of documents with IDs
    # string IDs (vecscale.h "Document ids"): a slash, a space and UTF-8, percent-encoded in paths
    "strdocs": ("/collections/strdocs", lambda n: "doc-%d/\u00e9 x" % n),
}


def element(shape, n):
    make_id = SHAPES[shape][1]
    return text_of(n) if make_id is None else {"id": make_id(n), "text": text_of(n), "metadata": {"n": n}}


def doc_path(shape, doc_id):
    return "%s/documents/%s" % (SHAPES[shape][0], urllib.parse.quote(str(doc_id), safe=""))


class Ledger:
    """What the clients know: per shape, acknowledged ID -> text, and texts sent without a reply."""

    def __init__(self):
        self.mu = threading.Lock()
        self.acked = {s: {} for s in SHAPES}
        self.unknown = {s: {} for s in SHAPES}  # text -> ID (None when automatic)
        self.next_n = 0

    def take(self, count):
        with self.mu:
            first = self.next_n
            self.next_n += count
            return range(first, first + count)


def add_client(server, ledger, shape, stop, errors):
    prefix = SHAPES[shape][0]
    while not stop.is_set():
        seqs = ledger.take(rng.randint(1, 5))
        body = [element(shape, n) for n in seqs]
        try:
            status, reply = server.request("POST", prefix + "/index", body, timeout=30)
        except OSError as e:
            refused = isinstance(getattr(e, "reason", e), ConnectionRefusedError)
            if not refused:  # sent, maybe applied: the server died before answering
                with ledger.mu:
                    for n in seqs:
                        ledger.unknown[shape][text_of(n)] = SHAPES[shape][1](n) if SHAPES[shape][1] else None
            return
        if status != 200 or reply.get("added") != len(seqs) or len(reply.get("ids", [])) != len(seqs):
            errors.append("POST %s/index -> %d %s" % (prefix, status, reply))
            return
        with ledger.mu:
            for n, doc_id in zip(seqs, reply["ids"]):
                if SHAPES[shape][1] and doc_id != SHAPES[shape][1](n):
                    errors.append("document %d acknowledged as id %s" % (n, doc_id))
                ledger.acked[shape][doc_id] = text_of(n)


def read_client(server, ledger, stop, errors, counts):
    """The seed's other requests, meanwhile: searches, /stats and, now and then, /save."""
    i = 0
    while not stop.is_set():
        i += 1
        try:
            if i % 25 == 0:
                status, reply = server.request("POST", "/save", timeout=60)
                ok = status == 200 and reply.get("saved") is True
            elif i % 5 == 0:
                status, reply = server.request("GET", "/stats")
                ok = status == 200 and "total_vectors" in reply
            else:
                status, reply = server.request("POST", "/search", {"query": text_of(rng.randrange(10000)), "k": 5, "nprobe": 4})
                ok = status == 200 and "results" in reply
        except OSError:
            return
        if not ok:
            errors.append("reader: %d %s" % (status, reply))
            return
        kind = "saves" if i % 25 == 0 else "stats" if i % 5 == 0 else "searches"
        counts[kind] = counts.get(kind, 0) + 1


def enumerate_auto(server, shape, total):
    """Every document of an automatic-ID collection: IDs are handed out from 0 upwards (a batch
    lost in the crash leaves its IDs to the next one), so probe until `total` are found and
    1000 IDs in a row past the last one are absent."""
    found, doc_id, misses = {}, 0, 0
    while len(found) < total or misses < 1000:
        status, reply = server.request("GET", doc_path(shape, doc_id))
        if status == 200:
            found[doc_id] = reply["text"]
            misses = 0
        elif status == 404:
            misses += 1
        else:
            raise AssertionError("GET %s -> %d %s" % (doc_path(shape, doc_id), status, reply))
        doc_id += 1
        if doc_id > 10 * (total + 1000):
            break
    return found


def verify(server, ledger, label):
    lost = dup = kept = 0
    for shape, (prefix, make_id) in SHAPES.items():
        total = server.ok("GET", prefix + "/stats")["total_vectors"]
        acked, unknown = ledger.acked[shape], ledger.unknown[shape]
        if make_id is None:
            present = enumerate_auto(server, shape, total)
        else:
            present = {}
            for doc_id in list(acked) + [i for i in unknown.values()]:
                status, reply = server.request("GET", doc_path(shape, doc_id))
                if status == 200:
                    present[doc_id] = reply["text"]
        for doc_id, text in acked.items():
            if present.get(doc_id) != text:
                lost += 1
                print("LOST %s id %s (%r): now %r" % (shape, doc_id, text, present.get(doc_id)), flush=True)
        counts = {}
        for doc_id, text in present.items():
            counts[text] = counts.get(text, 0) + 1
        for text, c in counts.items():
            if c > 1:
                dup += c - 1
                print("DUPLICATED %s %r x%d" % (shape, text, c), flush=True)
        acked_texts = set(acked.values())
        strangers = [t for t in counts if t not in acked_texts and t not in unknown]
        kept += sum(1 for t in counts if t in unknown and t not in acked_texts)
        check(not strangers, "%s %s: nothing stored that was never sent" % (label, shape), strangers[:5])
        check(len(present) == total, "%s %s: /stats counts the %d documents there are" % (label, shape, len(present)), total)
        sample = rng.sample(sorted(acked.items()), min(30, len(acked)))
        missed = []
        for doc_id, text in sample:
            r = server.ok("POST", prefix + "/search", {"query": text, "k": 10, "nprobe": 4})
            if doc_id not in [h["id"] for h in r["results"]]:
                missed.append((doc_id, text, r["results"][:3]))
        check(not missed, "%s %s: %d acknowledged documents found by their text" % (label, shape, len(sample)), missed[:3])
    n_acked = sum(len(a) for a in ledger.acked.values())
    n_unknown = sum(len(u) for u in ledger.unknown.values())
    check(lost == 0 and dup == 0, "%s: %d acknowledged documents, %d lost, %d duplicated (%d in flight at kills, %d of them kept)"
          % (label, n_acked, lost, dup, n_unknown, kept))
    return n_acked


def main():
    shutil.rmtree(T, ignore_errors=True)
    os.makedirs(T)
    if subprocess.run([VS, "model", "info", "glove-100"], capture_output=True).returncode:
        raise AssertionError("model glove-100 not found: run scripts/fetch_models.sh (scripts/test.sh does)")
    data = os.path.join(T, "data")
    ledger = Ledger()
    server = Server(VS, data, "--model", "glove-100", "--index", INDEX)
    server.ok("POST", "/collections", {"name": "docs", "model": "glove-100", "index": INDEX}, status=201)
    server.ok("POST", "/collections", {"name": "strdocs", "model": "glove-100", "index": INDEX}, status=201)
    try:
        for round_ in range(1, ROUNDS + 1):
            stop, errors, counts = threading.Event(), [], {}
            before = sum(len(a) for a in ledger.acked.values())
            clients = [threading.Thread(target=add_client, args=(server, ledger, shape, stop, errors))
                       for shape in ("texts", "texts", "docs", "strdocs")]
            clients.append(threading.Thread(target=read_client, args=(server, ledger, stop, errors, counts)))
            for c in clients:
                c.start()
            time.sleep(rng.uniform(0.5, 1.5))
            server.stop(signal.SIGKILL)
            stop.set()
            for c in clients:
                c.join()
            check(not errors, "round %d: every request before the kill answered as documented (%d documents acknowledged, "
                  "searches %d, stats %d, saves %d)" % (round_, sum(len(a) for a in ledger.acked.values()) - before,
                                                        counts.get("searches", 0), counts.get("stats", 0), counts.get("saves", 0)),
                  errors[:3])
            server = Server(VS, data)
            verify(server, ledger, "round %d after kill -9" % round_)
        check(server.stop() == 0, "SIGTERM stops the server cleanly (exit 0)")
        server = Server(VS, data)
        n = verify(server, ledger, "after a clean restart")
        check(server.stop() == 0, "stopped")
    except BaseException:
        server.stop(signal.SIGKILL)
        print("server log:\n" + server.log(), file=sys.stderr)
        raise
    shutil.rmtree(T, ignore_errors=True)
    print("%d kill -9 rounds: %d acknowledged documents, 0 lost, 0 duplicated" % (ROUNDS, n))


main()
