"""Runs every script in python/examples/ the way its docstring says and checks what it prints
(the documents found, the merged shards, the quantizers' sizes), not only the exit code."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import vecscale

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "python", "examples")
FIXTURE_DOCS = os.path.join(ROOT, "tests", "fixtures", "docs", "docs.jsonl")
N_DOCS = 3000


def model_available():
    try:
        vecscale.Model("glove-100-sif").close()
        return True
    except vecscale.Error:
        return False


needs_model = pytest.mark.skipif(
    not model_available(),
    reason="model glove-100-sif not found: run scripts/fetch_models.sh build/vecscale")


def run(script, *args, cwd):
    env = dict(os.environ)
    # the vecscale package this test imported, wherever it was built
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(vecscale.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, EXAMPLES, env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)] + [str(a) for a in args],
                       cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, "%s failed (%d):\n%s\n%s" % (script, p.returncode, p.stdout, p.stderr)
    return p.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Generated documents and their embeddings, shared by the tests below."""
    d = tmp_path_factory.mktemp("examples")
    out = run("make_docs.py", N_DOCS, "docs.jsonl", cwd=d)
    assert "wrote %d documents" % N_DOCS in out
    if model_available():
        out = run("embed_documents.py", "docs.jsonl", "vectors.npz", cwd=d)
        assert re.search(r"embedded %d documents with glove-100-sif: dim 100" % N_DOCS, out), out
    return d


def topics(work):
    with open(os.path.join(str(work), "docs.jsonl")) as f:
        return {doc["id"]: doc["topic"] for doc in map(json.loads, f)}


def hit_ids(out):
    return [int(m) for m in re.findall(r"id=(\d+)", out)]


@needs_model
def test_embed_build_search_fixture_documents(tmp_path):
    out = run("embed_documents.py", FIXTURE_DOCS, "small.npz", cwd=tmp_path)
    assert "embedded 12 documents" in out
    data = np.load(str(tmp_path / "small.npz"))
    assert data["vectors"].shape == (12, 100) and data["vectors"].dtype == np.float32
    assert sorted(data["ids"]) == list(range(1, 13))
    assert np.allclose(np.linalg.norm(data["vectors"], axis=1), 1, atol=1e-4)

    out = run("build_index.py", "small.npz", "small.vsi", "--factory", "Flat", cwd=tmp_path)
    assert "built Flat (cosine) over 12 vectors" in out
    assert (tmp_path / "small.vsi").stat().st_size > 12 * 100 * 4

    out = run("search_index.py", "small.vsi", FIXTURE_DOCS, "-k", "3",
              "the stock market and interest rates", "a cat purring by the window", cwd=tmp_path)
    blocks = out.split("query: ")[1:]
    assert len(blocks) == 2
    assert hit_ids(blocks[0])[0] == 2, out   # "Stock markets fell ... interest rates."
    assert hit_ids(blocks[1])[0] == 1, out   # "The cat sat on the warm windowsill ..."
    assert len(hit_ids(blocks[0])) == 3


@needs_model
def test_hnsw_index_on_generated_documents(work):
    out = run("build_index.py", "vectors.npz", "hnsw.vsi", "--factory", "HNSW16", cwd=work)
    assert "built HNSW16,Flat (cosine) over %d vectors" % N_DOCS in out
    out = run("search_index.py", "hnsw.vsi", "docs.jsonl", "-k", "5", "football match goal",
              cwd=work)
    ids = hit_ids(out)
    assert len(ids) == 5
    t = topics(work)
    assert all(t[i] == "sport" for i in ids), out


@needs_model
def test_index_manager_collection(work, tmp_path):
    coll = tmp_path / "coll"
    out = run("index_manager.py", os.path.join(str(work), "docs.jsonl"), coll,
              "--query", "bank loan interest", cwd=work)
    assert "%d documents" % N_DOCS in out
    t = topics(work)
    ids = hit_ids(out)
    assert len(ids) == 3 and all(t[i] == "finance" for i in ids), out
    # reopened (not rebuilt), and a metadata filter that contradicts the query wins
    out = run("index_manager.py", os.path.join(str(work), "docs.jsonl"), coll,
              "--query", "bank loan interest", "--topic", "food", "-k", "4", cwd=work)
    ids = hit_ids(out)
    assert len(ids) == 4 and all(t[i] == "food" for i in ids), out
    assert "topic=food" in out


@needs_model
@pytest.mark.parametrize("shards", [1, 4])
def test_sharded_merge_equals_one_index(work, shards):
    out = run("sharded_index.py", "vectors.npz", "--shards", shards, cwd=work)
    m = re.search(r"(\d+) vectors over (\d+) shards: \[([\d, ]+)\]", out)
    assert m, out
    sizes = [int(s) for s in m.group(3).split(",")]
    assert int(m.group(1)) == N_DOCS and len(sizes) == shards and sum(sizes) == N_DOCS
    assert re.search(r"equal one index's for 100\.0% of 100 queries", out), out


@needs_model
def test_quantize_sizes_and_errors(work):
    out = run("quantize.py", "vectors.npz", cwd=work)
    rows = {m.group(1): m.groups() for m in
            re.finditer(r"^(\S+)\s+(\d+)\s+([\d.]+)x\s+([\d.]+)$", out, re.M)}
    assert rows["SQ8"][1:3] == ("100", "4.0"), out
    assert rows["SQ4"][1:3] == ("50", "8.0"), out
    assert rows["fp16"][1:3] == ("200", "2.0"), out
    assert rows["PQ25x8"][1:3] == ("25", "16.0"), out
    err = {k: float(v[3]) for k, v in rows.items()}
    assert err["fp16"] < err["SQ8"] < err["SQ4"], out
    assert err["fp16"] < 1e-3
    idx = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in
           re.finditer(r"^(\S+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)}
    assert idx["Flat"][1] == 1.0, out
    assert idx["SQ8"][1] > 0.9, out
    assert idx["SQ8"][0] < idx["Flat"][0] / 2, out   # memory measured, not assumed
    assert idx["PQ25"][0] < idx["SQ8"][0], out


@needs_model
def test_benchmark(work):
    out = run("benchmark.py", "vectors.npz", cwd=work)
    rows = {m.group(1): (float(m.group(3)), float(m.group(4))) for m in
            re.finditer(r"^(\S+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)$", out, re.M)}
    assert set(rows) == {"Flat", "HNSW32", "IVF64,Flat"}, out
    assert rows["Flat"][1] == 1.0
    assert rows["HNSW32"][1] > 0.9
    assert all(qps > 0 for qps, _ in rows.values())
