"""The same saved index answers the same ids from Python and from `vecscale search`."""
import json
import subprocess

import numpy as np
import pytest
import vecscale


@pytest.mark.parametrize("factory, params", [("Flat", {}), ("HNSW16", {"ef": 16}),
                                             ("IVF16,PQ8x4fs,RFlat", {"nprobe": 8, "k_factor": 4})])
def test_python_search_equals_cli(tmp_path, rng, cli, factory, params):
    x = rng.standard_normal((3000, 32), dtype=np.float32)
    q = rng.standard_normal((40, 32), dtype=np.float32)
    ix = vecscale.Index(32, factory, metric="cosine", seed=5)
    if not ix.is_trained:
        ix.train(x)
    ix.add(x)
    path = tmp_path / "ix.vsi"
    ix.save(path)
    np.save(tmp_path / "q.npy", q)
    args = [cli, "search", "--index", str(path), "--queries", str(tmp_path / "q.npy"), "-k", "10", "--json"]
    flags = {"ef": "--ef", "nprobe": "--nprobe", "k_factor": "--k-factor"}
    for key, v in params.items():
        args += [flags[key], str(v)]
    out = json.loads(subprocess.run(args, check=True, capture_output=True).stdout)
    D, I = vecscale.Index.load(path).search(q, 10, **params)
    for row, res in zip(range(len(q)), out["results"]):
        assert I[row].tolist() == res["ids"]
        np.testing.assert_allclose(D[row], res["scores"], rtol=1e-6)
