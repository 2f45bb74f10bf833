"""The ``callyard`` command. Patches for gevent first when it is going to serve.

gevent's monkey-patching must happen before anything imports socket, ssl or threading, so
it is decided here, before the CLI (and Flask, peewee, psycopg2) is imported.
"""

from __future__ import annotations

import sys


def _serving(argv: list[str]) -> bool:
    # Patching a command that turns out not to serve is harmless; missing it for one that does is not.
    return "run" in argv and "--help" not in argv


def main() -> None:
    if _serving(sys.argv[1:]):
        import gevent
        from gevent import monkey

        # Every Socket.IO event runs in a greenlet of its own; by default gevent records each
        # one's spawning stack and parent, for debugging tools nobody runs in production, and
        # at 200 chat messages a second that was a sixth of the server's time (issue 8).
        gevent.config.track_greenlet_tree = False
        monkey.patch_all()
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
    from .cli import cli

    cli()


if __name__ == "__main__":
    main()
