"""The shape of the code: rooms import only rooms below them, no import cycle, no private
import across modules, every package documented. ``tools/check_layout.py`` is the check; these
tests run it on the real tree and prove on a planted tree that it catches each kind of fault."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "check_layout.py"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module      # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_tree_has_no_layout_finding() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(ROOT / "src")], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().endswith("0 layout findings in " + str(ROOT / "src"))


def test_every_room_is_a_package_named_in_the_order() -> None:
    rooms = {p.name for p in (ROOT / "src" / "tracework").iterdir()
             if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms == {r for r in _checker().RANKS if r and r != "__main__"}
    loose = sorted(p.name for p in (ROOT / "src" / "tracework").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]


def _plant(root: Path, files: dict[str, str]) -> Path:
    src = root / "src"
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return src


def test_the_check_catches_each_kind_of_fault(tmp_path: Path) -> None:
    src = _plant(tmp_path, {
        "tracework/__init__.py": '"""Facade."""\n',
        "tracework/core/__init__.py": '"""Core."""\n',
        "tracework/core/a.py": "from tracework.core import b\n",
        "tracework/core/b.py": "from tracework.core import a\n",
        "tracework/core/late.py": "def f():\n    from tracework.review import rules\n",
        "tracework/review/__init__.py": "",
        "tracework/review/rules.py": "from tracework.review.decisions import _apply\n",
        "tracework/review/decisions.py": "def _apply():\n    pass\n",
        "tracework/pay/__init__.py": '"""Pay."""\n',
        "tracework/pay/x.py": "from tracework.audit import labour\n",
        "tracework/audit/__init__.py": '"""Audit."""\n',
        "tracework/audit/labour.py": "",
    })
    found = "\n".join(_checker().findings(src))
    assert "import cycle: tracework.core.a -> tracework.core.b" in found
    assert "tracework.core.late:2: room 'core' imports tracework.review.rules" in found
    assert "tracework.pay.x:1: room 'pay' imports tracework.audit.labour" in found
    assert "imports the private name _apply from tracework.review.decisions" in found
    assert "tracework.review: the package has no docstring" in found
    assert len(found.splitlines()) == 5
    done = subprocess.run([sys.executable, str(SCRIPT), str(src)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1 and "5 layout findings" in done.stdout
