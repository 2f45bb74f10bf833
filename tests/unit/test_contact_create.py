"""ContactService.create on SQLite and PostgreSQL: an identity belongs to one contact, even
when several requests claim it at the same moment."""

from __future__ import annotations

import threading

import pytest

from callyard.errors import Conflict
from callyard.models import Contact, Identity


def test_an_identity_taken_already_is_a_conflict(services):  # noqa: ANN001
    with services.store.atomic():
        first = services.contacts.create("Ada", [("email", " ada@example.org "), ("phone", "+1555")])
    assert {(i.kind, i.value) for i in first.identities} == {("email", "ada@example.org"), ("phone", "+1555")}
    with pytest.raises(Conflict) as caught, services.store.atomic():
        services.contacts.create("Eve", [("phone", "+1666"), ("email", "ada@example.org")])
    assert caught.value.error_id == "identity-taken"
    # Nothing of the refused contact was kept.
    assert Contact.select().count() == 1 and Identity.select().count() == 2


def test_racing_creations_of_one_identity_make_one_contact(services):  # noqa: ANN001
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        with services.store.connection():
            barrier.wait(timeout=10)
            try:
                with services.store.atomic():
                    services.contacts.create("", [("email", "race@example.org")])
                outcomes.append("created")
            except Conflict as exc:
                outcomes.append(exc.error_id)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["created"] + ["identity-taken"] * 5
    assert Identity.select().where(Identity.value == "race@example.org").count() == 1
