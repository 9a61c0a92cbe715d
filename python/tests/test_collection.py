"""Collections: texts and metadata, reopen (log replay and snapshots), query, delete, filters,
and the same directory served by `vecscale serve` / built by `vecscale build`."""
import json
import os
import signal
import subprocess
import time
import urllib.request

import numpy as np
import pytest
import vecscale

from conftest import GLOVE

DOCS = [
    ("the cat sat on the mat", {"pos": "noun", "n": 1}),
    ("a dog barked at the mailman", {"pos": "noun", "n": 2}),
    ("run quickly to the station", {"pos": "verb", "n": 3}),
    ("to eat a delicious apple pie", {"pos": "verb", "n": 4}),
    ("stock markets fell sharply today", None),
]


def make(path, **kw):
    c = vecscale.Collection.create(str(path), model=GLOVE, **kw)
    ids = c.add(texts=[t for t, _ in DOCS], metadata=[m for _, m in DOCS])
    return c, ids


def test_texts_query_reopen_delete(tmp_path, glove):
    path = tmp_path / "coll"
    c, ids = make(path)
    assert (ids == np.arange(5)).all() and len(c) == 5
    assert (c.dim, c.metric, c.factory, c.model) == (100, "cosine", "Flat", os.path.realpath(GLOVE))
    hits = c.query("kitten on a rug", k=2)
    assert hits[0]["id"] == 0 and hits[0]["text"] == DOCS[0][0] and hits[0]["metadata"] == {"pos": "noun", "n": 1}
    assert hits[0]["score"] >= hits[1]["score"]
    q = glove.embed(["kitten on a rug"])
    D, I = c.search(q, 3)
    D2, I2 = c.search("kitten on a rug", 3)
    assert (I == I2).all() and I[0, 0] == 0
    doc = c.get(4)
    assert doc["text"] == DOCS[4][0] and doc["metadata"] is None
    np.testing.assert_allclose(doc["vector"], glove.embed([DOCS[4][0]])[0], rtol=1e-6)
    assert c.delete([1, 99]) == 1
    with pytest.raises(vecscale.NotFoundError):
        c.get(1)
    c.close()
    with vecscale.Collection.open(path) as c2:  # replays the log
        assert len(c2) == 4 and c2.model == os.path.realpath(GLOVE)
        assert c2.query("barking dog", k=4)[0]["id"] != 1
        c2.snapshot()
        c2.add(texts=["a fresh text about cats"], ids=[42], metadata=['{"raw": true}'])
        assert c2.info["generation"] >= 1
    with vecscale.Collection.open(path) as c3:  # snapshot + log
        assert len(c3) == 5 and c3.get(42)["metadata"] == {"raw": True}
    with pytest.raises(vecscale.ClosedError):
        c3.query("x")


def test_metadata_and_id_filters(tmp_path):
    c, _ = make(tmp_path / "c")
    verbs = c.query("dog cat", k=5, filter={"pos": "verb"})
    assert sorted(h["id"] for h in verbs) == [2, 3]
    assert [h["id"] for h in c.query("dog cat", k=5, filter={"pos": "noun", "n": 2})] == [1]
    assert c.query("dog cat", k=5, filter={"pos": "adjective"}) == []
    assert len(c.query("dog cat", k=5, filter={})) == 5  # empty dict: no filter
    assert sorted(h["id"] for h in c.query("dog", k=5, filter={0, 4})) == [0, 4]
    assert [h["id"] for h in c.query("dog", k=5, filter=lambda i: i == 3)] == [3]
    with pytest.raises(KeyError):
        c.query("dog", filter=lambda i: {}["missing"])
    with pytest.raises(TypeError):
        c.query("dog", filter={"x": object()})  # not JSON


def test_vectors_only_collection(tmp_path, rng):
    x = rng.standard_normal((300, 16), dtype=np.float32)
    with vecscale.Collection.create(tmp_path / "v", 16, factory="IVF4,Flat", metric="l2", train_min=100) as c:
        assert c.model is None
        ids = c.add(x[:50], ids=np.arange(1000, 1050))
        assert not c.info["trained"]  # staging on Flat
        c.add(x[50:])
        assert c.info["trained"]
        D, I = c.search(x[:3], 1, nprobe=4)
        assert (I[:, 0] == [1000, 1001, 1002]).all() and ids[0] == 1000
        with pytest.raises(vecscale.InvalidArgumentError, match="no model"):
            c.add(texts=["hello"])
        with pytest.raises(vecscale.DuplicateIdError):
            c.add(x[:1], ids=[1000])
        with pytest.raises(vecscale.InvalidArgumentError):
            c.add(x[:2], metadata=[{}])
        with pytest.raises(vecscale.InvalidArgumentError):
            c.add()


def test_collection_errors(tmp_path):
    with pytest.raises(vecscale.MissingFileError):
        vecscale.Collection.open(tmp_path / "none")
    with pytest.raises(vecscale.InvalidArgumentError):
        vecscale.Collection.create(tmp_path / "a")  # no dim, no model
    with pytest.raises(vecscale.InvalidArgumentError, match="dim"):
        vecscale.Collection.create(tmp_path / "b", 50, model=GLOVE)
    with pytest.raises(vecscale.MissingFileError):
        vecscale.Collection.create(tmp_path / "c", model="no-such-model-xyz")
    c = vecscale.Collection.create(tmp_path / "d", 4)
    assert c.search(np.ones(4), 3)[1].tolist() == [[-1, -1, -1]]  # empty collection: -1 rows
    with pytest.raises(vecscale.Error):
        vecscale.Collection.create(tmp_path / "d", 4)  # already holds one
    c.close()
    c.close()


def _serve(cli, data):
    portfile = data / "port"
    p = subprocess.Popen([cli, "serve", "--data", str(data), "--port", "0", "--port-file", str(portfile),
                          "--threads", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if portfile.exists() and portfile.read_text().strip():
            return p, int(portfile.read_text())
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    pytest.fail("vecscale serve did not start: " + p.stdout.read().decode(errors="replace"))


def _post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_served_by_vecscale_serve_and_back(tmp_path, cli, glove):
    data = tmp_path / "data"
    c, _ = make(data / "collections" / "docs")
    D, I = c.search("kitten on a rug", 3)
    c.close()  # the server takes the collection's lock
    p, port = _serve(cli, data)
    try:
        r = _post(port, "/collections/docs/search", {"query": "kitten on a rug", "k": 3})
        assert [h["id"] for h in r["results"]] == I[0].tolist()
        np.testing.assert_allclose([h["score"] for h in r["results"]], D[0], rtol=1e-5)
        v = glove.embed(["kitten on a rug"])[0].tolist()
        r = _post(port, "/collections/docs/search", {"vector": v, "k": 2, "filter": {"pos": "verb"}})
        assert sorted(h["id"] for h in r["results"]) == [2, 3]
        _post(port, "/collections/docs/index", {"documents": [{"id": 77, "text": "served text about apples",
                                                               "metadata": {"pos": "x"}}]})
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    with vecscale.Collection.open(data / "collections" / "docs") as back:
        assert back.get(77)["text"] == "served text about apples"
        assert back.query("apples", k=1, filter={"pos": "x"})[0]["id"] == 77


def test_cli_built_collection_opens(tmp_path, cli, glove):
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"id": 10 + i, "text": t, "tag": i % 2}) + "\n" for i, (t, _) in enumerate(DOCS)))
    out = tmp_path / "built"
    subprocess.run([cli, "build", "--input", str(src), "--output", str(out), "--model", GLOVE], check=True,
                   capture_output=True)
    with vecscale.Collection.open(out) as c:
        assert len(c) == 5 and c.metric == "cosine"
        assert os.path.samefile(c.model, GLOVE)
        hit = c.query("kitten on a rug", k=1)[0]
        assert hit["id"] == 10 and hit["text"] == DOCS[0][0] and hit["metadata"] == {"tag": 0}
        assert sorted(h["id"] for h in c.query("pie", k=5, filter={"tag": 1})) == [11, 13]


def test_model_path_recorded_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(GLOVE)))
    with vecscale.Collection.create(tmp_path / "rel", model="models/glove-100.vsm") as c:
        assert c.model == os.path.realpath(GLOVE) and c.dim == 100
    with vecscale.Collection.create(tmp_path / "name", model="glove-100") as c:
        assert c.model == "glove-100"  # a name stays a name (resolved where it is opened)
