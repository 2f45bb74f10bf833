"""A FreeSWITCH simulator that speaks the real event-socket protocol over TCP.

Its framing, Content-Types and header encoding follow transcripts recorded from a real
FreeSWITCH 1.10 (tests compare them); callers and agent phones are scripted so tests can drive
whole call flows. Run it alone with ``callyard fs-sim``.
"""

from .scripts import Caller as Caller
from .scripts import Phone as Phone
from .server import FreeSwitchSim as FreeSwitchSim
