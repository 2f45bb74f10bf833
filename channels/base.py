"""The contract every channel adapter keeps.

An adapter is constructed with its own config section and the kernel's services, and is
registered under the ``callyard.channels`` entry-point group (see setup.cfg). The core process
starts it, hands it outbox items to deliver, and stops it. Adding a channel is one folder and
one registration; a channel never imports another channel or the web layer.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from callyard.models import OutboxItem


@runtime_checkable
class Adapter(Protocol):
    #: the channel name, as stored on interactions and outbox items
    name: str

    def start(self) -> None:
        """Begin work (listeners, connections). Must return promptly."""

    def stop(self) -> None:
        """Stop work; pending outbound items stay in the outbox for the next start."""

    def deliver(self, item: OutboxItem) -> None:
        """Send one outbox item to the customer. Raise to have it retried later."""


class WebMountable(Protocol):
    """Optional: an adapter that serves pages or Socket.IO namespaces of its own."""

    def mount(self, app: Any, socketio: Any) -> None: ...
