"""The webhook and CRM dispatcher delivers each due item once, even from a stale read."""

from __future__ import annotations

import subprocess
import sys


def test_an_item_read_as_due_before_its_delivery_ended_is_not_delivered_again(tmp_path) -> None:  # noqa: ANN001
    # Seen in CI on PostgreSQL: the dispatcher's read of what is due waited on the database
    # while a delivery of one of those items ended; it then delivered that item a second time.
    # The dispatcher is gevent code: it runs in a child process (this one stays gevent-free).
    child = subprocess.run(
        [sys.executable, __file__, str(tmp_path / "db.sqlite")], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert "delivered once" in child.stdout


def run_in_child(path: str) -> None:
    import gevent

    from callyard import config as config_mod
    from callyard import services as services_mod
    from callyard.hook_dispatch import HookDispatcher
    from callyard.store import Store

    store = Store(f"sqlite:///{path}")
    store.upgrade()
    config = config_mod.load(None, env={})
    services = services_mod.build(config, store=store)
    delivered: list[int] = []

    class Endpoint:
        def deliver(self, item) -> None:  # noqa: ANN001
            delivered.append(item.id)

        def key(self, _item) -> str:  # noqa: ANN001
            return "endpoint"

    dispatcher = HookDispatcher(services, config.webhooks)
    dispatcher._deliverers["webhook"] = Endpoint()  # noqa: SLF001
    with store.connection():
        with store.atomic():
            services.outbox.enqueue("webhook", None, {"event": "interaction.created"})
        stale = services.outbox.due(services.clock(), channels=("webhook",))
    assert len(stale) == 1
    dispatcher.dispatch()
    gevent.sleep(0.2)  # the delivery runs and ends
    assert delivered == [stale[0].id], delivered
    # A dispatch whose read of what is due was made before that delivery ended.
    services.outbox.due = lambda *_a, **_k: stale  # type: ignore[method-assign]
    dispatcher.dispatch()
    gevent.sleep(0.2)
    assert delivered == [stale[0].id], f"delivered again: {delivered}"
    dispatcher.stop()
    store.close()
    print("delivered once")


if __name__ == "__main__":
    run_in_child(sys.argv[1])
