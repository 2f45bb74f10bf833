"""Messages of one conversation arriving at the same moment (two tabs, a burst) open one interaction."""

from __future__ import annotations

import threading

from callyard.models import Interaction, Message


def test_simultaneous_first_messages_open_a_single_interaction(services):  # noqa: ANN001
    # A returning customer: known already, with no open interaction, so nothing else (such as
    # creating their contact) happens to serialise the senders.
    services.interactions.ingest(
        channel="chat",
        identity=("chat_visitor", "burst"),
        body="earlier",
        queue="support",
        thread_key="burst",
    )
    services.interactions.customer_left("chat", "burst")
    senders = 8
    barrier = threading.Barrier(senders)
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            with services.store.connection():
                barrier.wait(timeout=10)
                services.interactions.ingest(
                    channel="chat",
                    identity=("chat_visitor", "burst"),
                    body=f"part {n}",
                    queue="support",
                    thread_key="burst",
                    external_id=f"burst:{n}",
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    opened = Interaction.select().where(Interaction.thread_key == "burst", Interaction.state == "queued")
    assert opened.count() == 1
    assert Message.select().where(Message.interaction == opened.get()).count() == senders
