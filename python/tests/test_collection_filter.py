"""Metadata filters of collections: the library's JSON filter grammar (include/vecscale.h,
"Payload indexes and metadata filters") from Python dicts, checked against a Python model of
the grammar on every operator, with and without payload indexes, with int and string ids (from
payload indexes) and int ids from 2^31 up (checked per document)."""
import numpy as np
import pytest
import vecscale

N = 80


def meta(i):
    if i % 4 == 3:
        return None  # no metadata: no fields
    m = {"pos": ["noun", "verb", "adj"][i % 3], "n": i, "w": i / 4, "flag": i % 2 == 0,
         "tags": [f"t{i % 5}", "all"]}
    if i % 7 == 0:
        m["opt"] = i
    if i % 5 < 2:
        m["maybe"] = None if i % 5 == 0 else "x"  # null is not a value: exists is false
    return m


def _eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a == b  # numbers compare as numbers: 12 == 12.0


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


OPS = {
    "eq": lambda vals, a: any(_eq(v, a) for v in vals),
    "in": lambda vals, a: any(_eq(v, b) for v in vals for b in a),
    "gt": lambda vals, a: any(_num(v) and v > a for v in vals),
    "gte": lambda vals, a: any(_num(v) and v >= a for v in vals),
    "lt": lambda vals, a: any(_num(v) and v < a for v in vals),
    "lte": lambda vals, a: any(_num(v) and v <= a for v in vals),
    "exists": lambda vals, a: bool(vals) == a,
}


def holds(f, m):
    """The grammar, written from its description: every clause of the object must hold."""
    for key, arg in f.items():
        if key == "and":
            ok = all(holds(g, m) for g in arg)
        elif key == "or":
            ok = any(holds(g, m) for g in arg)
        elif key == "not":
            ok = not holds(arg, m)
        else:
            v = (m or {}).get(key)
            vals = [x for x in (v if isinstance(v, list) else [v]) if x is not None]
            if isinstance(arg, dict):
                ok = all(OPS[op](vals, a) for op, a in arg.items())
            else:
                ok = OPS["eq"](vals, arg)
        if not ok:
            return False
    return True


FILTERS = [
    {"pos": "verb"}, {"pos": {"eq": "noun"}}, {"pos": {"in": ["noun", "adj"]}},
    {"n": {"gte": 10, "lt": 30}}, {"n": {"gt": 70}}, {"n": {"lte": 5}}, {"n": 12.0},
    {"n": {"in": [1, 2.0, 3, 4]}}, {"w": {"gt": 3.5, "lte": 9.25}}, {"flag": True}, {"flag": {"eq": False}},
    {"opt": {"exists": True}}, {"opt": {"exists": False}}, {"maybe": {"exists": True}},
    {"tags": "t3"}, {"tags": {"in": ["t1", "t2"]}}, {"pos": "verb", "flag": True},
    {"and": [{"pos": "verb"}, {"n": {"lt": 40}}]}, {"or": [{"pos": "adj"}, {"flag": False}]},
    {"not": {"pos": "verb"}}, {"not": {"opt": {"exists": True}}}, {"and": []}, {"or": []},
    {"or": [{"and": [{"pos": "noun"}, {"not": {"n": {"gte": 20}}}]}, {"tags": "t4", "w": {"lt": 5}}]},
]


def make(path, ids):
    x = np.random.default_rng(11).standard_normal((N, 8), dtype=np.float32)
    c = vecscale.Collection.create(path, 8, metric="l2")
    c.add(x, ids=ids, metadata=[meta(i) for i in range(N)], texts=[f"t{i}" for i in range(N)])
    return c, x


def check_all(c, x, ids):
    for f in FILTERS:
        want = {ids[i] for i in range(N) if holds(f, meta(i))}
        assert c.count(f) == len(want), f
        D, I = c.search(x[0], N, filter=f)
        got = [i for i in c.keys(I[0]) if i is not None]
        assert set(got) == want and len(got) == len(want), f
        hits = c.query(x[0], k=N, filter=f)
        assert {h["id"] for h in hits} == want and all(holds(f, h["metadata"]) for h in hits), f


IDS = {"int": lambda i: i, "str": lambda i: f"doc-{i}", "big": lambda i: (1 << 31) + i}


@pytest.mark.parametrize("kind", sorted(IDS))
def test_filter_operators_match_the_grammar(tmp_path, kind):
    ids = [IDS[kind](i) for i in range(N)]
    c, x = make(tmp_path / "c", ids)
    check_all(c, x, ids)  # payload indexes being built automatically, or not there yet
    for field, t in (("pos", "keyword"), ("n", "integer"), ("w", "float"), ("flag", "bool"), ("tags", "keyword"),
                     ("opt", "integer"), ("maybe", "keyword")):
        c.create_payload_index(field, t)
    assert {(p["field"], p["type"], p["ready"]) for p in c.payload_indexes} >= {("pos", "keyword", True),
                                                                                 ("n", "integer", True)}
    n, report = c.count({"pos": "verb"}, report=True)
    # integer ids from 2^31 are beyond the indexes' 32-bit bitmaps: checked per document
    assert report["indexed"] is (kind != "big") and (report["unindexed"] != "") is (kind == "big"), report
    check_all(c, x, ids)
    c.delete([ids[i] for i in range(0, N, 3)])  # the indexes follow deletes
    c.close()
    with vecscale.Collection.open(tmp_path / "c") as c2:
        for f in FILTERS[:6]:
            want = {ids[i] for i in range(N) if i % 3 and holds(f, meta(i))}
            assert {h["id"] for h in c2.query(x[0], k=N, filter=f)} == want, f


def test_filter_errors(tmp_path):
    c, x = make(tmp_path / "c", None)
    for bad in ({"nofield": 1}, {"pos": {"like": "x"}}, {"pos": {"gt": 1}}, {"and": {"pos": "verb"}}, {"pos": None},
                {"n": "12"}):
        with pytest.raises(vecscale.InvalidArgumentError, match="filter"):
            c.search(x[0], 3, filter=bad)
        with pytest.raises(vecscale.InvalidArgumentError):
            c.count(bad)
    with pytest.raises(TypeError):
        c.count({"pos": object()})
    with pytest.raises(vecscale.InvalidArgumentError):
        c.count([1, 2])
    with pytest.raises(vecscale.InvalidArgumentError):
        c.create_payload_index("pos", "text")
    c.create_payload_index("pos", "keyword")
    c.create_payload_index("pos", "keyword")  # the same again: nothing to do
    with pytest.raises(vecscale.InvalidArgumentError):
        c.create_payload_index("pos", "integer")  # another type than its index
    assert c.count() == c.count({}) == N
