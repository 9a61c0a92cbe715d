"""Shared fixtures: the package (from the source tree when it was built in place), the CMake
build directory and its `vecscale` command, and the offline glove-100 model."""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(PYDIR)
if os.path.exists(os.path.join(PYDIR, "vecscale")) and PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

BUILD = os.path.abspath(os.environ.get("VECSCALE_BUILD_DIR") or os.path.join(ROOT, "build"))
CLI = os.path.join(BUILD, "vecscale")
GLOVE = os.path.join(ROOT, "models", "glove-100.vsm")
# Model names ("glove-100") resolve only where the caller says: the checkout's models/ is given
# as the model directory, as README.md's install steps export it.
os.environ.setdefault("VECSCALE_MODEL_DIR", os.path.join(ROOT, "models"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def cli():
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"{CLI} not built: run scripts/test_python.sh (it builds the release build)")
    return CLI


@pytest.fixture(scope="session")
def glove():
    """The model is made by scripts/fetch_models.sh, which scripts/test_python.sh runs."""
    if not os.path.exists(GLOVE):
        pytest.fail(f"{GLOVE} missing: run scripts/fetch_models.sh build/vecscale")
    import vecscale

    m = vecscale.Model(GLOVE)
    yield m
    m.close()


def brute_force(x, q, k, metric="l2"):
    """Exact top-k ids and scores with numpy (float64), best first, ties by smaller id."""
    x = x.astype(np.float64)
    q = q.astype(np.float64)
    if metric == "l2":
        d = (q * q).sum(1)[:, None] - 2 * q @ x.T + (x * x).sum(1)[None, :]
        order = np.lexsort((np.broadcast_to(np.arange(len(x)), d.shape), d), axis=1)[:, :k]
    else:
        if metric == "cosine":
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = q @ x.T
        order = np.lexsort((np.broadcast_to(np.arange(len(x)), d.shape), -d), axis=1)[:, :k]
    return np.take_along_axis(d, order, 1), order


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])
