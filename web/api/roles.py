"""Which token roles may do what. An integrator connects a system (channels, webhooks, reads);
a supervisor acts on the work (assign, close, answer as an agent, presence); an admin does all."""

from __future__ import annotations

ANY = ("integrator", "supervisor", "admin")
INTEGRATE = ("integrator", "admin")
SUPERVISE = ("supervisor", "admin")
CLOSE = ("integrator", "supervisor", "admin")  # an integrator only its API interactions
ADMIN = ("admin",)
