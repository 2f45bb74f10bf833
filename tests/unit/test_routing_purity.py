"""callyard.routing does no I/O: importing all of it must not pull in the rest of the system.

The import runs in a fresh interpreter, so whatever this test session already imported (the
kernel, peewee, pytest plugins) cannot hide a forbidden import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

FORBIDDEN = (
    # the frameworks and drivers the rest of Callyard runs on
    "gevent",
    "peewee",
    "flask",
    "psycopg2",
    "flask_socketio",
    "psycogreen",
    "werkzeug",
    # standard-library I/O
    "socket",
    "ssl",
    "sqlite3",
    "asyncio",
)

# Imports every module of callyard.routing, then reports what is in sys.modules.
PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    {extra}
    import callyard.routing as routing
    names = ["callyard.routing"]
    for info in pkgutil.walk_packages(routing.__path__, "callyard.routing."):
        importlib.import_module(info.name)
        names.append(info.name)
    print(json.dumps({{"imported": names, "modules": sorted(sys.modules)}}))
    """
)


def probe(extra: str = "") -> tuple[list[str], list[str]]:
    """(the routing modules imported, the offending modules found in sys.modules)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(extra=extra)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    offenders = []
    for name in report["modules"]:
        top = name.split(".", 1)[0]
        if top in FORBIDDEN:
            offenders.append(name)
        elif (
            top == "callyard"
            and name != "callyard"
            and not (name == "callyard.routing" or name.startswith("callyard.routing."))
        ):
            # the kernel, callyard.channels, callyard.web, ...: routing may import none of them
            offenders.append(name)
    return report["imported"], offenders


def test_routing_imports_nothing_but_itself_and_the_standard_library():
    imported, offenders = probe()
    assert offenders == [], f"callyard.routing must stay pure, but importing it loaded {offenders}"
    # every module was really imported (an empty walk would pass the check vacuously)
    assert {
        "callyard.routing.model",
        "callyard.routing.plan",
        "callyard.routing.eligibility",
        "callyard.routing.strategies",
    } <= set(imported)


def test_the_probe_notices_forbidden_imports():
    # The check itself must be able to fail: a stray import of peewee or of the kernel is caught.
    _, offenders = probe("import peewee")
    assert "peewee" in offenders
    _, offenders = probe("import callyard.errors")
    assert "callyard.errors" in offenders
