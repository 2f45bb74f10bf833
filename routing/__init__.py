"""The routing brain: pure functions from a snapshot and a time to decisions. See README.md."""

from .brain import Brain as Brain
from .coverage import unservable as unservable
from .eligibility import DEFAULT_BLOCKS as DEFAULT_BLOCKS
from .model import AFTER_HOURS as AFTER_HOURS
from .model import AFTER_HOURS_ACTIONS as AFTER_HOURS_ACTIONS
from .model import OFFER as OFFER
from .model import OVERFLOW as OVERFLOW
from .model import TIMEOUT as TIMEOUT
from .model import TIMEOUT_ACTIONS as TIMEOUT_ACTIONS
from .model import WAIT as WAIT
from .model import AgentState as AgentState
from .model import BusinessHours as BusinessHours
from .model import Candidate as Candidate
from .model import Decision as Decision
from .model import EscalationStep as EscalationStep
from .model import QueueRules as QueueRules
from .model import WorkItem as WorkItem
from .plan import plan as plan
from .strategies import STRATEGIES as STRATEGIES

__all__ = [
    "AFTER_HOURS",
    "AFTER_HOURS_ACTIONS",
    "OFFER",
    "OVERFLOW",
    "TIMEOUT",
    "TIMEOUT_ACTIONS",
    "WAIT",
    "AgentState",
    "Brain",
    "BusinessHours",
    "Candidate",
    "DEFAULT_BLOCKS",
    "Decision",
    "EscalationStep",
    "QueueRules",
    "WorkItem",
    "plan",
    "unservable",
    "STRATEGIES",
]
