"""Phone menus from the config, as pure decisions: which prompt, which keys, what a key does.

No I/O here: the controller plays what this says and feeds back what the caller pressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callyard.config import VoiceConfig, parse_voice_actions

MAX_MENUS = 16  # a menu that leads back to itself must still end


@dataclass
class Outcome:
    """Where the menus sent the caller."""

    queue: str
    skills: dict[str, int] = field(default_factory=dict)
    action: str = "queue"  # queue, voicemail or hangup
    path: list[str] = field(default_factory=list)


@dataclass
class Step:
    """One menu to play: its prompt and the keys that mean something there."""

    menu: str
    prompt: str
    keys: str

    @property
    def regex(self) -> str:
        return "^[" + re.escape(self.keys) + "]$"


class MenuWalk:
    """Walk the menus one answer at a time: ``step()``, then ``answer(digit or None)``."""

    def __init__(self, config: VoiceConfig) -> None:
        self._config = config
        self._menu = config.menu
        self._visited = 0
        self.outcome = Outcome(queue=config.queue)

    def step(self) -> Step | None:
        """The menu to play now, or None when the walk is over (see ``outcome``)."""
        if not self._menu or self._visited >= MAX_MENUS:
            return None
        menu = self._config.menus[self._menu]
        return Step(self._menu, menu.prompt, "".join(sorted(menu.choices)))

    def answer(self, digit: str | None) -> None:
        """What the caller keyed in the current menu (None: nothing valid after all tries)."""
        menu = self._config.menus[self._menu]
        self._visited += 1
        self.outcome.path.append(f"{self._menu}:{digit or '-'}")
        if digit is not None and digit in menu.choices:
            text, key = menu.choices[digit], f"menus.{self._menu}.choices.{digit}"
        else:
            text, key = menu.fallback or f"queue:{self._config.queue}", f"menus.{self._menu}.fallback"
        self._menu = ""
        for kind, arg in parse_voice_actions(text, key):
            if kind == "skill":
                self.outcome.skills[arg] = 1
            elif kind == "queue":
                self.outcome.queue = arg
            elif kind == "menu":
                self._menu = arg
            else:
                self.outcome.action = kind
