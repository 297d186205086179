"""Every Python snippet of the README runs as pasted: as a script of its own, in an empty folder,
with no ``if __name__ == "__main__":`` guard (the way a newcomer pastes it)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
# minutes of training (measured figures in the README): run with the slow tests
SLOW = ("ImageClassifier(", "SharedWeights(")


def _param(index, code):
    first = code.strip().splitlines()[0]
    marks = [pytest.mark.slow] if any(word in code for word in SLOW) else []
    return pytest.param(code, id=f"{index}:{first[:40]}", marks=marks)


def test_the_readme_has_snippets():
    assert len(SNIPPETS) >= 5


@pytest.mark.parametrize("code", [_param(i, code) for i, code in enumerate(SNIPPETS)])
def test_a_readme_snippet_runs_as_pasted(code, tmp_path):
    if "sweepml.nas" in code:
        pytest.importorskip("torch")
    script = tmp_path / "snippet.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
