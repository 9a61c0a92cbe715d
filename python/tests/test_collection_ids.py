"""Collections with string ids (vecscale.h "Document ids": an int 0..2^62-1 or a str of 1..256
bytes of UTF-8, "17" IS 17) and text queries with no word the model knows."""
import warnings

import numpy as np
import pytest
import vecscale

from conftest import GLOVE

KEYED_MIN = 1 << 62


def vecs(n, dim=8, seed=7):
    return np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)


def test_string_ids_add_get_search_delete_reopen(tmp_path):
    x = vecs(6)
    path = tmp_path / "c"
    c = vecscale.Collection.create(path, 8, metric="l2")
    given = ["doc-a", 3, "17", None, "é/ x", np.int64(40)]
    ids = c.add(x, ids=given, texts=[f"t{i}" for i in range(6)], metadata=[{"i": i} for i in range(6)])
    # as the collection reports them: "17" is 17, None the next integer after the largest so far
    # and in the batch
    assert ids == ["doc-a", 3, 17, 41, "é/ x", 40]
    assert [type(i) for i in ids] == [str, int, int, int, str, int]
    assert c.add(x[:1] + 1)[0] == 42  # automatic ids continue after the integers, not the keyed ones
    for i, want in enumerate(ids):
        doc = c.get(want)
        assert doc["id"] == want and doc["text"] == f"t{i}" and doc["metadata"] == {"i": i}
        np.testing.assert_array_equal(doc["vector"], x[i])
    assert c.get("17")["id"] == 17 and c.get("3")["id"] == 3
    D, I = c.search(x, 1)
    assert I[0, 0] >= KEYED_MIN and I[4, 0] >= KEYED_MIN and I[1, 0] == 3  # internal ids
    assert c.keys(I) == [[i] for i in ids]
    assert c.keys(I[:, 0]) == ids and c.keys(I[0, 0]) == "doc-a"
    assert c.keys(np.array([[-1]])) == [[None]]
    assert c.get(I[4, 0])["id"] == "é/ x"  # an internal id from search() works as well
    assert [h["id"] for h in c.query(x[4], k=2)][0] == "é/ x"
    # id allow-lists may name str ids (absent ones allow nothing)
    D, I = c.search(x[0], 6, filter={"doc-a", 17, "nope"})
    assert sorted(map(str, c.keys(I[0]) [:2])) == ["17", "doc-a"] and I[0, 2] == -1
    assert c.delete(["doc-a", 3, "missing", "é/ x"]) == 3
    with pytest.raises(vecscale.NotFoundError, match="doc-a"):
        c.get("doc-a")
    assert c.keys(I[0]).count(None) == 5  # doc-a removed since that search: None, like padding
    c.close()
    with vecscale.Collection.open(path) as c2:  # the log replays the keys
        assert len(c2) == 4 and c2.get(17)["text"] == "t2"
        c2.add(x[:1], ids=["doc-a"])  # a removed string id may come back (a new internal id)
        c2.snapshot()
    with vecscale.Collection.open(path) as c3:  # the snapshot's KEYS section
        assert c3.get("doc-a")["id"] == "doc-a" and c3.get(40)["id"] == 40
        assert c3.query(x[0], k=1)[0]["id"] == "doc-a"


def test_string_id_errors(tmp_path):
    x = vecs(3)
    with vecscale.Collection.create(tmp_path / "c", 8) as c:
        c.add(x[:2], ids=["a", 5])
        for bad in ([""], ["x" * 257], [1 << 62, "b"], [True, "b"], [1.5, "b"], [-1, "b"]):
            with pytest.raises(vecscale.InvalidArgumentError):
                c.add(x[:len(bad)], ids=bad)
        with pytest.raises(vecscale.DuplicateIdError):
            c.add(x[:1], ids=["a"])
        with pytest.raises(vecscale.DuplicateIdError):
            c.add(x[:1], ids=["5"])  # "5" is 5
        with pytest.raises(vecscale.DuplicateIdError):
            c.add(x[:2], ids=["q", "q"])
        assert len(c) == 2  # all or nothing
        assert c.add(x[:2], ids=np.array(["s1", "s2"])) == ["s1", "s2"]  # numpy str arrays too
        assert c.delete(np.array(["s1", "s2"], dtype=object)) == 2
        c.add(x[2:3], ids=["x" * 256])
        assert c.get("x" * 256)["id"] == "x" * 256
        with pytest.raises(vecscale.InvalidArgumentError):
            c.delete(["", "a"])  # an invalid id fails before anything is removed
        assert len(c) == 3
        with pytest.raises(vecscale.InvalidArgumentError):
            c.get(b"a")
        with pytest.raises(vecscale.NotFoundError):
            c.get("017")  # not canonical: another string id, which is absent
        with pytest.raises(vecscale.InvalidArgumentError):
            c.keys(["a"])


def test_embed_return_known(glove):
    texts = ["The fox, the FOX qqxqzzq!", "qqxqzzq", "zzqq qqxqzzq", "vector search"]
    E, known = glove.embed(texts, return_known=True)
    assert known.dtype == np.uint32 and known.shape == (4,)
    # the known-word count is the number of tokens the model has a row for
    assert known.tolist() == [sum(t >= 0 for t in glove.tokenize(s)) for s in texts] == [4, 0, 0, 2]
    np.testing.assert_array_equal(E, glove.embed(texts))
    np.testing.assert_array_equal(E[1], E[2])  # both the fallback vector
    E0, k0 = glove.embed([], return_known=True)
    assert E0.shape == (0, 100) and k0.shape == (0,)


def test_query_with_no_known_word(tmp_path, glove):
    with vecscale.Collection.create(tmp_path / "c", model=GLOVE) as c:
        c.add(texts=["the cat sat on the mat", "a dog barked", "stock markets fell"], ids=["a", "b", "c"])
        with pytest.warns(vecscale.NoKnownWordWarning, match="knows none of the query's words"):
            assert c.query("qqxqzzq zzqq") == []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert c.query("cat on the mat", k=1)[0]["id"] == "a"  # a known word: no warning
            with pytest.raises(vecscale.NoKnownWordWarning):
                c.query("qqxqzzq")
        with pytest.warns(vecscale.NoKnownWordWarning, match="1 of the 3 queries"):
            D, I = c.search(["dog barked", "qqxqzzq", "cat on the mat"], 2)
        assert I[1].tolist() == [-1, -1] and np.isneginf(D[1]).all()  # cosine padding
        assert c.keys(I[[0, 2], 0]) == ["b", "a"]
        # a vector query is taken as given, even the fallback vector itself
        assert len(c.query(glove.embed(["qqxqzzq"])[0], k=3)) == 3
        with pytest.raises(vecscale.InvalidArgumentError, match="text 1 .*qqxqzzq"):
            c.add(texts=["fine words", "qqxqzzq"])
        assert len(c) == 3
        c.add(glove.embed(["qqxqzzq"]), texts=["qqxqzzq"])  # explicitly, with its vector
        assert len(c) == 4
