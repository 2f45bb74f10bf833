"""The routing brain: pure functions from a snapshot and a time to decisions. See README.md."""

from .model import AgentState as AgentState
from .model import Candidate as Candidate
from .model import Decision as Decision
from .model import WorkItem as WorkItem
from .plan import plan as plan
from .strategies import STRATEGIES as STRATEGIES

__all__ = ["AgentState", "Candidate", "Decision", "WorkItem", "plan", "STRATEGIES"]
