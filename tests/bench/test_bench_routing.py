"""How fast the pure routing brain plans a round."""

from __future__ import annotations

import datetime as dt
import random
import time

from callyard.routing import AgentState, WorkItem, plan

from figures import summary

NOW = dt.datetime(2026, 3, 2, 9, 0)


def _snapshot(agents: int, items: int, seed: int = 7) -> tuple[list[AgentState], list[WorkItem]]:
    rnd = random.Random(seed)
    skills = ["support", "sales", "billing", "fr", "de"]
    agent_list = [
        AgentState(
            id=i,
            name=f"a{i}",
            presence=rnd.choice(["available"] * 4 + ["break", "offline"]),
            skills={s: rnd.randint(1, 10) for s in rnd.sample(skills, 3)},
            capacity={"chat": 3, "email": 5},
            load={"chat": rnd.randint(0, 2)},
            idle_since=NOW - dt.timedelta(seconds=rnd.randint(0, 3600)),
        )
        for i in range(agents)
    ]
    item_list = [
        WorkItem(
            id=i,
            channel=rnd.choice(["chat", "email"]),
            queue="q",
            strategy="longest-idle",
            required_skills={rnd.choice(skills): rnd.randint(1, 5)},
            queue_priority=rnd.randint(0, 2),
            priority=rnd.randint(0, 1),
            waiting_since=NOW - dt.timedelta(seconds=rnd.randint(0, 600)),
        )
        for i in range(items)
    ]
    return agent_list, item_list


def test_bench_plan_rounds():
    for agents, items in ((50, 100), (500, 1000)):
        agent_list, item_list = _snapshot(agents, items)
        durations = []
        for _ in range(5):
            start = time.perf_counter()
            decisions = plan(item_list, agent_list, NOW)
            durations.append(time.perf_counter() - start)
        assigned = sum(d.agent_id is not None for d in decisions)
        summary(
            f"routing.plan {agents} agents x {items} items ({assigned} assigned)", durations, unit="rounds"
        )
