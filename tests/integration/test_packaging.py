"""`pip install .` must carry everything the folders map into: code, templates, static files,
the widget, the vendored Socket.IO client and the channel entry point. (`pip install -e .` is
what the test environment itself runs on.)"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NEEDED = [
    "callyard/__main__.py",
    "callyard/migrations/m0001_initial.py",
    "callyard/routing/plan.py",
    "callyard/routing/README.md",
    "callyard/channels/chat/adapter.py",
    "callyard/channels/chat/static/widget.js",
    "callyard/web/app.py",
    "callyard/web/templates/inbox.html",
    "callyard/web/templates/login.html",
    "callyard/web/templates/demo.html",
    "callyard/web/static/inbox.js",
    "callyard/web/static/app.css",
    "callyard/web/static/vendor/socket.io.min.js",
]


def test_wheel_holds_every_part_and_installs_without_the_source_tree(tmp_path):  # noqa: ANN001
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("callyard-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    missing = [n for n in NEEDED if n not in names]
    assert not missing, f"missing from the wheel: {missing}"
    assert "chat = callyard.channels.chat.adapter:from_config" in entry_points
    assert "callyard = callyard.__main__:main" in entry_points

    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    probe = (
        "import callyard, callyard.web, callyard.channels.chat.adapter as a, callyard.routing;"
        "from pathlib import Path;"
        "print(callyard.__file__);"
        "print((Path(callyard.web.__file__).parent / 'templates' / 'inbox.html').is_file());"
        "print((Path(a.__file__).parent / 'static' / 'widget.js').is_file())"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert out.returncode == 0, out.stderr
    first, templates, widget = out.stdout.split()
    assert first.startswith(str(target)), f"imported {first}, not the installed wheel"
    assert templates == "True" and widget == "True"
