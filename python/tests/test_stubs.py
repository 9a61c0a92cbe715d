"""The type stubs (vecscale/__init__.pyi, vecscale/faiss.pyi) match the real modules: every
public name and every public member of a public class has a stub entry, every stub entry
exists at run time, and every public name and member has a docstring. Adding a method to the
extension without a stub (or a stub for something removed) fails here."""
import ast
import inspect
import os
import types

import numpy as np
import pytest

import vecscale
import vecscale.faiss as vf

PKG = os.path.dirname(os.path.abspath(vecscale.__file__))
DUNDERS = {"__len__", "__enter__", "__exit__", "__getattr__"}


def public(name):
    return not name.startswith("_") or name in DUNDERS


def stub_params(fn, method):
    """[(name, kind, default)] of a stub function; default "REQ" (none) or "ANY" (...)."""
    a = fn.args
    out = []
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    for arg, dflt in zip(pos, defaults):
        out.append((arg.arg, "pos", stub_default(dflt)))
    if a.vararg:
        out.append((a.vararg.arg, "*", "REQ"))
    for arg, dflt in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, "kw", stub_default(dflt)))
    if a.kwarg:
        out.append((a.kwarg.arg, "**", "REQ"))
    if method and out and out[0][0] in ("self", "cls"):
        out = out[1:]
    return out


def stub_default(node):
    if node is None:
        return "REQ"
    if isinstance(node, ast.Constant):
        return "ANY" if node.value is Ellipsis else node.value
    return "ANY"


KINDS = {inspect.Parameter.POSITIONAL_ONLY: "pos", inspect.Parameter.POSITIONAL_OR_KEYWORD: "pos",
         inspect.Parameter.KEYWORD_ONLY: "kw", inspect.Parameter.VAR_POSITIONAL: "*",
         inspect.Parameter.VAR_KEYWORD: "**"}


def runtime_params(obj):
    try:
        sig = inspect.signature(obj)
    except (ValueError, TypeError):
        return None
    out = [(p.name, KINDS[p.kind], "REQ" if p.default is p.empty else p.default)
           for p in sig.parameters.values()]
    if out and out[0][0] in ("self", "cls"):
        out = out[1:]
    return out


def same_params(stub, runtime):
    if [(n, k) for n, k, _ in stub] != [(n, k) for n, k, _ in runtime]:
        return False
    for (_, _, a), (_, _, b) in zip(stub, runtime):
        if a == "ANY":
            if b == "REQ":
                return False
        elif a != b:
            return False
    return True


def stub_functions(path):
    """{(class or None, name): FunctionDef} (the first definition: getters, not setters)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out.setdefault((None, node.name), node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    out.setdefault((node.name, item.name), item)
    return out


def parse_stub(path):
    """{top-level name: node}, {class name: (set of member names, [base names])}."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    top, classes = {}, {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    top[t.id] = node
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
            classes[node.name] = (members, bases)
    return top, classes


def stub_members(classes, name):
    members, bases = classes[name]
    out = set(members)
    for b in bases:
        if b in classes:
            out |= stub_members(classes, b)
    return out


def runtime_members(cls, module):
    """Public members defined by cls or its bases from the same module (not by object or
    builtin exception classes)."""
    out = {}
    for klass in cls.__mro__:
        if klass.__module__ != module.__name__:
            continue
        for name, value in vars(klass).items():
            if public(name) and name not in out:
                out[name] = value
    return out


def public_names(module):
    names = set(module.__all__)
    # everything the module itself defines that is not private must be exported
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if getattr(value, "__module__", module.__name__) == module.__name__ and (
                inspect.isclass(value) or callable(value)):
            assert name in names, "%s.%s is public but not in __all__" % (module.__name__, name)
    return names


def samples():
    """Instances of the faiss classes, for attributes set in __init__ (e.g. .hnsw)."""
    return {
        "IndexHNSW": vf.IndexHNSWFlat(8, 4),
        "IndexHNSWFlat": vf.IndexHNSWFlat(8, 4),
        "IndexHNSWSQ": vf.index_factory(8, "HNSW4,SQ8"),
        "IndexRefineFlat": vf.index_factory(8, "HNSW4,SQ8,RFlat"),
        "IndexIDMap": vf.IndexIDMap(vf.IndexFlatL2(8)),
        "IndexIDMap2": vf.IndexIDMap2(vf.IndexFlatL2(8)),
        "IndexIVFFlat": vf.IndexIVFFlat(None, 8, 4),
        "SearchParametersIVF": vf.SearchParametersIVF(nprobe=2),
        "SearchParametersHNSW": vf.SearchParametersHNSW(efSearch=2),
        "IDSelectorBatch": vf.IDSelectorBatch(np.arange(3)),
        "IDSelectorArray": vf.IDSelectorArray(np.arange(3)),
        "IDSelectorRange": vf.IDSelectorRange(0, 3),
    }


@pytest.mark.parametrize("module,stub", [(vecscale, "__init__.pyi"), (vf, "faiss.pyi")])
def test_stub_names_match_module(module, stub):
    top, classes = parse_stub(os.path.join(PKG, stub))
    names = public_names(module)
    stubbed = {n for n in top if not n.startswith("_")}
    assert names - stubbed == set(), "public names without a stub in %s" % stub
    assert stubbed - names == set(), "stub entries %s names that %s does not export" % (
        sorted(stubbed - names), module.__name__)
    made = samples() if module is vf else {}
    for name in sorted(names):
        obj = getattr(module, name)
        if not inspect.isclass(obj):
            continue
        assert name in classes, "%s is a class but its stub is not" % name
        have = runtime_members(obj, module)
        want = stub_members(classes, name)
        missing = {m for m in have if m not in want and not (
            issubclass(obj, BaseException) or m == "__init__")}
        assert missing == set(), "%s.%s: members without a stub: %s" % (module.__name__, name, missing)
        inst = made.get(name)
        stale = {m for m in want - set(have) if m != "__init__" and not (
            inst is not None and hasattr(inst, m))}
        if issubclass(obj, BaseException):
            stale -= {"code"}  # set on each instance by the extension
        assert stale == set(), "%s.%s: stub members that do not exist: %s" % (
            module.__name__, name, stale)


@pytest.mark.parametrize("module", [vecscale, vf])
def test_every_public_name_has_a_docstring(module):
    assert (module.__doc__ or "").strip()
    for name in sorted(module.__all__):
        obj = getattr(module, name)
        if inspect.isclass(obj) or callable(obj):
            assert (obj.__doc__ or "").strip(), "%s.%s has no docstring" % (module.__name__, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for m, value in runtime_members(obj, module).items():
                if m in DUNDERS - {"__enter__", "__exit__"}:
                    continue
                doc = getattr(value, "__doc__", None)
                if isinstance(value, (classmethod, staticmethod)):
                    doc = value.__func__.__doc__
                if value is None or isinstance(value, (int, float, str)):
                    continue  # plain class attributes (e.g. IndexIVF.quantizer = None)
                assert (doc or "").strip(), "%s.%s.%s has no docstring" % (module.__name__, name, m)


@pytest.mark.parametrize("module,stub", [(vecscale, "__init__.pyi"), (vf, "faiss.pyi")])
def test_stub_signatures_match(module, stub):
    """Parameter names, kinds and defaults of every stubbed function and method equal the
    signature the running module reports (the extension publishes __text_signature__)."""
    funcs = stub_functions(os.path.join(PKG, stub))
    checked = 0
    for (cls_name, name), node in sorted(funcs.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        if cls_name is None:
            if name not in module.__all__:
                continue
            obj, method = getattr(module, name), False
        else:
            if cls_name not in module.__all__:
                continue
            cls = getattr(module, cls_name)
            if name == "__init__":
                obj, method = cls, False
            else:
                raw = inspect.getattr_static(cls, name, None)
                if raw is None or isinstance(raw, property) or inspect.isdatadescriptor(raw):
                    continue
                obj, method = getattr(cls, name), True
        want = runtime_params(obj)
        if want is None:
            continue  # builtins without a published signature (e.g. vecscale.version)
        have = stub_params(node, method or name == "__init__")
        assert same_params(have, want), "%s.%s%s: stub %s, runtime %s" % (
            module.__name__, cls_name + "." if cls_name else "", name, have, want)
        checked += 1
    assert checked >= 20, checked


def test_faiss_constants_are_documented():
    """Module constants cannot carry __doc__: each is followed by a docstring in the source."""
    with open(vf.__file__) as f:
        body = ast.parse(f.read()).body
    documented = set()
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.Assign) and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
            documented |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    constants = {n for n in vf.__all__ if isinstance(getattr(vf, n), int)}
    assert constants and constants <= documented, constants - documented


def test_py_typed_ships():
    assert os.path.exists(os.path.join(PKG, "py.typed"))


def test_mypy_stubtest_faiss(tmp_path):
    """mypy's stubtest (Debian python3-mypy) compares faiss.pyi with the running module:
    argument names, kinds, defaults, and what is exported."""
    try:
        import mypy.stubtest  # noqa: F401
    except ImportError as e:
        reason = "python3-mypy is not importable (%s): apt-get install -y python3-mypy" % e
        import warnings
        warnings.warn(reason)
        pytest.skip(reason)
    import subprocess
    import sys
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(PKG), env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-m", "mypy.stubtest", "vecscale.faiss"], cwd=str(tmp_path),
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
