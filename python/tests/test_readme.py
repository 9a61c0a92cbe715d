"""The README's Python quick start runs as pasted (so it cannot rot): the ```python block of
the section "Using it from Python" is extracted and run in a fresh interpreter in an empty
directory, and its output is checked."""
import os
import re
import subprocess
import sys

import pytest

import vecscale

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def quick_start():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Using it from Python\n", 1)
    assert len(section) == 2, "README.md has no section 'Using it from Python'"
    body = section[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, re.S)
    assert blocks, "no ```python block in the section"
    return blocks[0]


def test_quick_start_is_short():
    assert len(quick_start().strip().splitlines()) <= 12


def test_quick_start_runs_as_pasted(tmp_path):
    try:
        vecscale.Model("glove-100-sif").close()
    except vecscale.Error as e:
        pytest.skip("model glove-100-sif missing (scripts/fetch_models.sh build/vecscale): %s" % e)
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(vecscale.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-c", quick_start()], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    # "print(ids[0], scores[0])": the cat document (id 0) first, with a cosine in (0, 1]; the
    # second may be negative (glove-100-sif removes the common component every text shares)
    m = re.match(r"\[0 (\d)\] \[ *([-\d.]+) +([-\d.]+)\]", p.stdout.strip())
    assert m, p.stdout
    assert -1.0001 <= float(m.group(3)) <= float(m.group(2)) <= 1.0001 and float(m.group(2)) > 0
    assert (tmp_path / "docs.vsi").stat().st_size > 0
    assert len(vecscale.Index.load(str(tmp_path / "docs.vsi"))) == 3
