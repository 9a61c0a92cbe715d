"""Quantizers: code sizes, round-trip error bounds, errors."""
import numpy as np
import pytest
import vecscale


@pytest.mark.parametrize("kind, code_size, tol", [("SQ8", 32, 1 / 255), ("SQ4", 16, 1 / 15), ("fp16", 64, 2**-11),
                                                  ("bf16", 64, 2**-8)])
def test_scalar_round_trip(rng, kind, code_size, tol):
    x = rng.uniform(-2, 3, (500, 32)).astype(np.float32)
    sq = vecscale.ScalarQuantizer(32, kind)
    assert sq.code_size == code_size and sq.dim == 32 and sq.memory_reduction == 4 * 32 / code_size
    if kind in ("SQ8", "SQ4"):
        assert not sq.is_trained
        with pytest.raises(vecscale.NotTrainedError):
            sq.encode(x)
        sq.train(x)
    codes = sq.encode(x)
    assert codes.dtype == np.uint8 and codes.shape == (500, code_size)
    y = sq.decode(codes)
    assert y.dtype == np.float32 and y.shape == x.shape
    if kind in ("SQ8", "SQ4"):
        span = x.max(0) - x.min(0)  # per-dimension range: error at most half a step (+ rounding slack)
        assert (np.abs(y - x) <= span * tol * 0.5 + 1e-5).all()
    elif kind == "fp16":  # round to nearest, as numpy's cast
        np.testing.assert_array_equal(y, x.astype(np.float16).astype(np.float32))
    else:
        assert (np.abs(y - x) <= np.abs(x) * tol + 1e-30).all()
    assert (sq.decode(sq.encode(x[0])) == y[:1]).all()  # one vector


def test_product_round_trip(rng):
    centers = rng.standard_normal((16, 32)).astype(np.float32) * 4
    x = centers[rng.integers(0, 16, 3000)] + 0.01 * rng.standard_normal((3000, 32)).astype(np.float32)
    pq = vecscale.ProductQuantizer(32, 8, bits=8)
    assert pq.code_size == 8 and pq.memory_reduction == 16.0
    pq.train(x, seed=3)
    y = pq.decode(pq.encode(x))
    rel = np.linalg.norm(y - x) / np.linalg.norm(x)
    assert rel < 0.05  # clustered data: every sub-vector is near a centroid
    pq4 = vecscale.ProductQuantizer(32, 8, bits=4)
    assert pq4.code_size == 4
    pq4.train(x)
    r4 = np.linalg.norm(pq4.decode(pq4.encode(x)) - x) / np.linalg.norm(x)
    assert r4 < 0.35
    noise = rng.standard_normal((3000, 32)).astype(np.float32)
    pqn = vecscale.ProductQuantizer(32, 8)
    pqn.train(noise)
    rn = np.linalg.norm(pqn.decode(pqn.encode(noise)) - noise) / np.linalg.norm(noise)
    assert rel < r4 < rn < 1.0


def test_quantizer_errors(rng):
    with pytest.raises(vecscale.InvalidArgumentError):
        vecscale.ScalarQuantizer(8, "SQ7")
    with pytest.raises(vecscale.InvalidArgumentError):
        vecscale.ProductQuantizer(10, 3)  # m does not divide dim
    with pytest.raises(vecscale.InvalidArgumentError):
        vecscale.ProductQuantizer(8, 2, bits=9)
    pq = vecscale.ProductQuantizer(8, 2, bits=8)
    with pytest.raises(vecscale.InvalidArgumentError):
        pq.train(rng.standard_normal((10, 8)))  # fewer than 2**bits
    sq = vecscale.ScalarQuantizer(8, "fp16")
    with pytest.raises(vecscale.InvalidArgumentError):
        sq.encode(np.full((1, 8), np.nan))
    with pytest.raises(vecscale.InvalidArgumentError):
        sq.encode(np.ones((1, 9)))
    with pytest.raises(vecscale.InvalidArgumentError):
        sq.decode(np.zeros((1, 15), np.uint8))
    with pytest.raises(vecscale.InvalidArgumentError):
        sq.decode(np.zeros((1, 16), np.float32))
    sq.close()
    with pytest.raises(vecscale.ClosedError):
        sq.encode(np.ones((1, 8)))


def test_fp16_encoding_is_ieee_round_to_nearest_even():
    # every finite half value, the midpoints between neighbours (ties) and the floats either
    # side of them, subnormals included, against numpy's float16 cast
    h = np.arange(0, 0x7BFF, dtype=np.uint16).view(np.float16).astype(np.float32)
    mid = ((h[:-1].astype(np.float64) + h[1:]) / 2).astype(np.float32)
    xs = np.concatenate([h, mid, np.nextafter(mid, 0), np.nextafter(mid, 1), -h]).astype(np.float32)[:, None]
    sq = vecscale.ScalarQuantizer(1, "fp16")
    np.testing.assert_array_equal(sq.decode(sq.encode(xs)), xs.astype(np.float16).astype(np.float32))
