"""How fast the routing brain decides (issue 4 figures): 1,000 agents, 20 skills, 10,000
waiting interactions across 50 queues, mixed channels. Prints figures, never fails on them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import random
import time
import tracemalloc

from callyard.routing import OFFER, STRATEGIES, AgentState, Brain, EscalationStep, QueueRules, WorkItem, plan

from figures import summary

NOW = dt.datetime(2026, 3, 2, 9, 0)
SKILLS = [f"skill{i:02d}" for i in range(20)]
CHANNELS = ["voice", "chat", "email"]


def _queues(rnd: random.Random, n: int = 50) -> list[QueueRules]:
    names = sorted(STRATEGIES)
    queues = []
    for i in range(n):
        ladder = ()
        if i % 3 == 0:
            ladder = (EscalationStep(30, min_level=3), EscalationStep(90, min_level=1))
        queues.append(
            QueueRules(
                name=f"q{i:02d}",
                strategy=names[i % len(names)],
                priority=rnd.randint(0, 2),
                skills={s: rnd.randint(1, 5) for s in rnd.sample(SKILLS, rnd.choice((1, 1, 2)))},
                escalation=ladder,
            )
        )
    return queues


def _agents(rnd: random.Random, n: int = 1000) -> list[AgentState]:
    return [
        AgentState(
            id=i,
            name=f"agent{i}",
            presence=rnd.choice(["available"] * 8 + ["break", "offline"]),
            skills={s: rnd.randint(1, 10) for s in rnd.sample(SKILLS, rnd.randint(3, 6))},
            capacity={"voice": 1, "chat": 3, "email": 5},
            load={},
            idle_since=NOW - dt.timedelta(seconds=rnd.randint(0, 3600)),
            contacts_today=rnd.randint(0, 40),
            talk_seconds_today=rnd.uniform(0, 20000),
            order=rnd.randint(0, 100),
        )
        for i in range(1, n + 1)
    ]


def _items(rnd: random.Random, queues: list[QueueRules], n: int = 10_000) -> list[WorkItem]:
    return [
        WorkItem(
            id=i,
            channel=rnd.choice(CHANNELS),
            queue=rnd.choice(queues).name,
            priority=rnd.choice((0, 0, 0, 1)),
            waiting_since=NOW - dt.timedelta(seconds=rnd.randint(0, 600)),
            skills={rnd.choice(SKILLS): 2} if rnd.random() < 0.1 else {},
        )
        for i in range(1, n + 1)
    ]


def _world(seed: int = 7) -> tuple[list[QueueRules], list[AgentState], list[WorkItem]]:
    rnd = random.Random(seed)
    queues = _queues(rnd)
    return queues, _agents(rnd), _items(rnd, queues)


def test_bench_routing_decisions():
    queues, agents, items = _world()

    # Memory of the index: every agent, every item waiting (measured apart: tracing is slow).
    gc.collect()
    tracemalloc.start()
    sized = Brain(queues)
    for agent in agents:
        sized.set_agent(agent)
    for item in items:
        sized.hold_item(item, NOW)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del sized

    # Arrivals: 10,000 interactions come in one by one; each arrival is one decision.
    brain = Brain(queues)
    for agent in agents:
        brain.set_agent(agent)
    gc.collect()
    durations, cpu, offer_cpu, offered = [], [], [], 0
    started, cpu_started = time.perf_counter(), time.thread_time()
    for item in items:
        t0, c0 = time.perf_counter(), time.thread_time()
        decisions = brain.add_item(item, NOW)
        durations.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        if decisions[0].action == OFFER:
            offered += 1
            offer_cpu.append(cpu[-1])
    total, cpu_total = time.perf_counter() - started, time.thread_time() - cpu_started
    name = f"routing 1000 agents x 20 skills, 50 queues: 10,000 arrivals ({offered} offered, {len(brain.waiting())} wait)"
    summary(name + " [wall clock]", durations, total, unit="decisions")
    # On a shared machine the wall clock counts time the process was not running at all.
    summary(name + " [CPU time of this thread]", cpu, cpu_total, unit="decisions")
    summary("routing arrivals that made an offer [CPU time of this thread]", offer_cpu, unit="offers")
    print(f"BENCH routing index memory (1000 agents + 10,000 items, tracemalloc peak): {peak / 1e6:.1f} MB")

    # One cycle after an agent frees up: they (or a better match) take the most urgent work.
    rnd = random.Random(11)
    busy = [a for a in agents if brain.load_of(a.id)]
    cycles, cycles_cpu, placed = [], [], 0
    for _ in range(3000):
        agent = rnd.choice(busy)
        load = brain.load_of(agent.id)
        channel = rnd.choice(sorted(load))
        load[channel] -= 1
        freed = dataclasses.replace(brain.agent(agent.id), load=load)
        t0, c0 = time.perf_counter(), time.thread_time()
        decisions = brain.update_agent(freed, NOW)
        cycles.append(time.perf_counter() - t0)
        cycles_cpu.append(time.thread_time() - c0)
        placed += sum(d.action == OFFER for d in decisions)
    name = f"routing cycle after an agent frees up (10,000 waiting; {placed} offers in 3000 cycles)"
    summary(name + " [wall clock]", cycles, unit="cycles")
    summary(name + " [CPU time of this thread]", cycles_cpu, unit="cycles")

    # The full explanation stored with a decision (every agent's disqualifier or score).
    sample = rnd.sample(brain.waiting(), 500)
    explain = []
    for item in sample:
        t0 = time.perf_counter()
        brain.explain(item, NOW)
        explain.append(time.perf_counter() - t0)
    summary(
        "routing explain() of one waiting decision (stored reason, 50 agents)", explain, unit="explanations"
    )


def test_bench_routing_full_plan_at_start():
    queues, agents, items = _world(seed=8)
    for explain in (False, True):
        started = time.perf_counter()
        decisions = plan(items, agents, NOW, queues, explain=explain)
        total = time.perf_counter() - started
        offered = sum(d.action == OFFER for d in decisions)
        print(
            f"\nBENCH routing.plan at start (build + plan, explain={explain}): {len(decisions)} decisions "
            f"({offered} offered) in {total * 1000:.0f} ms, {len(decisions) / total:,.0f} decisions/s"
        )
