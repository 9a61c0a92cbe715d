"""Every public name has a docstring (help(vecscale.Index) is useful) and a signature."""
import inspect

import vecscale


def test_every_public_name_is_documented():
    missing = []
    for name in vecscale.__all__:
        obj = getattr(vecscale, name)
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, v in vars(obj).items():
                if attr.startswith("_") and attr not in ("__enter__", "__exit__"):
                    continue
                if not (getattr(v, "__doc__", "") or "").strip():
                    missing.append(f"{name}.{attr}")
    assert not missing


def test_signatures_are_visible():
    assert list(inspect.signature(vecscale.Index).parameters)[:3] == ["dim", "factory", "metric"]
    assert "k_factor" in inspect.signature(vecscale.Index.search).parameters
    assert "batch_size" in inspect.signature(vecscale.Model.embed).parameters
    assert "metadata" in inspect.signature(vecscale.Collection.add).parameters
