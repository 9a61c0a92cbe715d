"""Model: embeddings equal `vecscale embed`'s for the same texts; tokenize."""
import subprocess

import numpy as np
import pytest
import vecscale

from conftest import GLOVE

TEXTS = ["The quick brown fox jumps over the lazy dog.", "vector search in C", "Ünïcödé wörds, naïve café",
         "qqxqzzq unknownword", "1984 was a year"]


def test_embed_matches_cli(glove, cli, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "out.npy"
    subprocess.run([cli, "embed", "--model", GLOVE, "--input", str(inp), "--output", str(out)], check=True,
                   capture_output=True)
    want = np.load(out)
    got = glove.embed(TEXTS)
    assert got.dtype == np.float32 and got.shape == (5, 100)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(glove.embed(TEXTS, batch_size=2, threads=2), want)


def test_model_properties(glove):
    assert glove.dim == 100 and glove.name == "glove-100" and glove.normalizes
    assert "glove-100" in repr(glove)
    by_name = vecscale.Model("glove-100")  # resolved in the source tree's models/
    np.testing.assert_array_equal(by_name.embed(["fox"]), glove.embed(["fox"]))
    by_name.close()
    with pytest.raises(vecscale.ClosedError):
        by_name.embed(["fox"])


def test_tokenize(glove):
    t = glove.tokenize("The fox, the FOX qqxqzzq!")
    assert len(t) == 5
    assert t[0] == t[2] and t[1] == t[3] and t[4] == -1 and min(t[:4]) >= 0
    assert glove.tokenize("...") == []


def test_model_errors(glove, tmp_path):
    with pytest.raises(vecscale.MissingFileError):
        vecscale.Model("no-such-model-xyz")
    bad = tmp_path / "bad.vsm"
    bad.write_bytes(b"VECSCALE" + b"\0" * 100)
    with pytest.raises((vecscale.CorruptFileError, vecscale.VersionError)):
        vecscale.Model(str(bad))
    for texts in (["ok", ""], ["a\0b"], "single string", [1, 2], None):
        with pytest.raises((vecscale.InvalidArgumentError, TypeError)):
            glove.embed(texts)
    with pytest.raises(vecscale.InvalidArgumentError):
        glove.tokenize("")
    with pytest.raises(vecscale.UnsupportedError):
        glove.embed(["x"], normalize=False)
    assert glove.embed([]).shape == (0, 100)


def test_bert_tokenize_and_embed_match_reference():
    # a random-weight tiny BERT with its transformers/PyTorch outputs (tools/bert_reference.py)
    import json
    import os

    from conftest import ROOT

    d = os.path.join(ROOT, "tests", "fixtures", "embed", "bert_tiny_f32")
    ref = json.load(open(os.path.join(d, "expected.json")))
    with vecscale.Model(d) as m:
        for text, ids in zip(ref["texts"], ref["ids"]):
            assert m.tokenize(text) == ids, text
        got = m.embed(ref["texts"])
    np.testing.assert_allclose(got, np.array(ref["embeddings"], dtype=np.float32), atol=1e-4)


def test_sif_model_is_selectable_by_name(glove):
    """The default model, glove-100-sif (scripts/fetch_models.sh), opens by name like glove-100:
    same words and dimension, different vectors (weighted, common component removed)."""
    try:
        sif = vecscale.Model("glove-100-sif")
    except vecscale.Error as e:
        pytest.fail("model glove-100-sif missing (scripts/fetch_models.sh build/vecscale): %s" % e)
    assert sif.dim == 100 and sif.name == "glove-100-sif" and sif.normalizes
    texts = ["the cat sat on the mat", "a musical instrument with black and white keys"]
    a, b = sif.embed(texts), glove.embed(texts)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert np.all(np.abs(a - b).max(axis=1) > 1e-3)
    assert sif.tokenize("The fox") == glove.tokenize("The fox")
    sif.close()
