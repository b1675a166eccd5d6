"""Routing and assignment figures: `python -m infra.bench.routing` (and in `python -m infra.bench`).

1. Routing decision cost with 10 and with 10,000 keyword rules: median µs per decision over
   many messages, and the ratio (target ≤ 1.2). Pure CPU: the compiled rule set in-process.
2. DynamoDB requests per assignment (target ≤ 4), counted with infra/bench/aws_calls.py against
   in-process moto holding template.yaml's tables: a new conversation routed and assigned, a
   freed slot filled, a conversation that has to wait.
3. A day's traffic: 10,000 conversations, 20 agents of mixed capacity going on and off line.
   A discrete-event model that uses the real domain decisions (the compiled rules,
   `candidate_order`, the `wait_rank` ordering, drain-on-slot-freed) over in-memory state, since
   moto would take tens of minutes; the transactional invariants are covered by the concurrent
   unit test. Prints the spread of load across agents and the distribution of waiting time.
"""

from __future__ import annotations

import heapq
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAYER_PY = ROOT / "layers" / "common" / "python"
if str(LAYER_PY) not in sys.path:
    sys.path.insert(0, str(LAYER_PY))

COMMON = ["快递", "物流", "发货", "退款", "退货", "发票", "尺码", "优惠券", "会员", "shipping"]
MESSAGES = [
    "你好，我的快递到哪了？",
    "这个衣服有没有M码，尺码怎么选",
    "我要退款，东西坏了",
    "请问可以开发票吗",
    "优惠券怎么用不了",
    "在吗在吗",
    "What is the shipping time to Shanghai?",
    "我是会员，能不能再便宜点",
    "昨天下的单什么时候发货",
    "质量有问题，想退货换一个",
]


def _rules(n: int, rng: random.Random) -> list:
    from kefu.routing.rules import BusinessHours, RoutingRule, RuleConditions

    base = [
        RoutingRule(
            rule_id="vip", queue="vip", priority=8, conditions=RuleConditions(tiers=["vip"])
        ),
        RoutingRule(
            rule_id="ship",
            queue="logistics",
            priority=3,
            conditions=RuleConditions(keywords=["快递", "物流", "发货", "shipping"]),
        ),
        RoutingRule(
            rule_id="refund",
            queue="after-sales",
            priority=5,
            conditions=RuleConditions(keywords=["退款", "退货"]),
        ),
        RoutingRule(
            rule_id="invoice", queue="after-sales", conditions=RuleConditions(keywords=["发票"])
        ),
        RoutingRule(
            rule_id="size",
            queue="pre-sales",
            conditions=RuleConditions(keywords=["尺码", "M码"], channels=["wechat_miniprogram"]),
        ),
        RoutingRule(
            rule_id="coupon", queue="pre-sales", conditions=RuleConditions(keywords=["优惠券"])
        ),
        RoutingRule(
            rule_id="member",
            queue="vip",
            priority=2,
            conditions=RuleConditions(keywords=["会员"], tags=["complained"]),
        ),
        RoutingRule(
            rule_id="beauty", queue="beauty", conditions=RuleConditions(categories=["cosmetics"])
        ),
        RoutingRule(
            rule_id="night",
            queue="after-hours",
            conditions=RuleConditions(
                hours=BusinessHours(
                    weekdays=[1, 2, 3, 4, 5, 6, 7], ranges=["09:00-22:00"], outside=True
                )
            ),
        ),
        RoutingRule(rule_id="app", queue="app-desk", conditions=RuleConditions(channels=["app"])),
    ]
    # Shops with big catalogues route by product code: thousands of rare keyword rules.
    extra = [
        RoutingRule(
            rule_id=f"sku{i}",
            queue=f"q{i % 12}",
            priority=rng.randrange(10),
            conditions=RuleConditions(keywords=[f"SKU-{i:05d}", f"款号{i:05d}"]),
        )
        for i in range(max(0, n - len(base)))
    ]
    # Put the product-code rules first: the worst case for a scan, since they are checked first.
    return [*extra, *base][:n] if n > len(base) else base[:n]


def _decide_all(decide: Callable[[Any], object], facts: list) -> None:
    for f in facts:
        decide(f)


def decision_cost(messages: int = 20_000, rounds: int = 11) -> dict[str, Any]:
    from kefu.routing.rules import CompiledRules, Facts

    rng = random.Random(1)
    facts = [
        Facts(
            text=rng.choice(MESSAGES)
            + (f" SKU-{rng.randrange(10_000):05d}" if rng.random() < 0.1 else ""),
            channel=rng.choice(["wechat_miniprogram", "app", "h5"]),
            tier=rng.choice(["regular", "regular", "vip"]),
            tags=frozenset(["complained"] if rng.random() < 0.1 else []),
            categories=frozenset(["cosmetics"]) if rng.random() < 0.1 else None,
            at_ms=1_717_300_000_000 + rng.randrange(86_400_000),
        )
        for _ in range(messages)
    ]
    out: dict[str, Any] = {}
    compiled, compile_ms = {}, {}
    for n in (10, 10_000):
        rules = _rules(n, random.Random(2))
        t = time.perf_counter()
        compiled[n] = CompiledRules(rules)
        compile_ms[n] = (time.perf_counter() - t) * 1000
    from infra.bench.rounds import alternating_rounds, paired_ratio

    per_round = alternating_rounds(
        {n: partial(_decide_all, compiled[n].decide, facts) for n in (10, 10_000)},
        len(facts),
        rounds,
    )
    medians = {n: statistics.median(v) for n, v in per_round.items()}
    for n in (10, 10_000):
        out[f"{n} rules"] = {
            "median µs per decision": round(medians[n], 2),
            "compile ms (once per rule set version per instance)": round(compile_ms[n], 1),
        }
    out["ratio 10,000 ÷ 10 (target ≤ 1.2)"] = paired_ratio(per_round[10_000], per_round[10])
    # For contrast: checking every rule in order, what the matcher avoids.
    from kefu.routing.rules import naive_decide

    rules = _rules(10_000, random.Random(2))
    t = time.perf_counter()
    for f in facts[:500]:
        naive_decide(rules, f)
    out["naive scan of 10,000 rules, µs per decision (for contrast)"] = round(
        (time.perf_counter() - t) / 500 * 1e6, 1
    )
    return out


# ------------------------------------------------------------------------------ requests


def requests_per_assignment() -> dict[str, Any]:
    from infra.bench import aws_calls
    from infra.bench.moto_env import customer_message, moto_env, seed_shop

    aws_calls.install()
    with moto_env():
        from kefu.assignment import agents
        from kefu.conversations import service
        from kefu.ids import now_ms
        from kefu.routing import admin, router
        from kefu.routing.rules import RoutingRule, RoutingRulesPut, RuleConditions
        from kefu.storage.conversations import Conversation

        shop = "bench"
        actors = seed_shop(shop, {"sup": "supervisor", "a1": "agent", "a2": "agent", "a3": "agent"})
        sup = actors["sup"]
        admin.create_queue(
            sup, admin.NewQueue(queue_id="logistics", name="物流", members=["a1", "a2", "a3"])
        )
        admin.put_rules(
            sup,
            RoutingRulesPut(
                rules=[
                    RoutingRule(
                        rule_id="ship",
                        queue="logistics",
                        priority=3,
                        conditions=RuleConditions(keywords=["快递"]),
                    )
                ]
            ),
        )
        for u in ("a1", "a2"):
            agents.set_my_status(actors[u], agents.StatusChange(status="online", capacity=1))

        def opened(openid: str, text: str) -> dict:
            t = now_ms()
            r = customer_message(shop, openid, text, at=t)
            return {
                "type": "conversation.opened",
                "shop_id": shop,
                "occurred_at": t,
                "event_id": "x",
                "data": {
                    "conversation_id": r.conversation_id,
                    "customer_id": r.customer_id,
                    "channel": "wechat_miniprogram",
                    "queue": "default",
                    "type": "text",
                    "content": {"text": text},
                },
            }

        def count(fn: Callable[[], object]) -> dict:
            aws_calls.LOG.clear()
            fn()
            return aws_calls.dynamodb_counts(aws_calls.LOG.snapshot())

        out: dict[str, Any] = {}
        first = opened("c1", "我的快递到哪了")
        out["new conversation routed + assigned (cold: rule set compiled in this instance)"] = (
            count(lambda: router.handle(first))
        )
        second = opened("c2", "快递还没到")
        out["new conversation routed + assigned (warm) — target ≤ 4"] = count(
            lambda: router.handle(second)
        )
        third = opened("c3", "快递呢")
        out["new conversation, nobody has room: waits"] = count(lambda: router.handle(third))
        cid = first["data"]["conversation_id"]
        holder = Conversation.get(shop, cid).assignee
        out["agent resolves (conversation + load + last agent + audit in one transaction)"] = count(
            lambda: service.resolve(actors[holder], cid)
        )
        freed = {
            "type": "agent.slot_freed",
            "shop_id": shop,
            "event_id": "y",
            "data": {"username": holder, "reason": "resolved"},
        }
        out["agent.slot_freed: the waiting conversation assigned — target ≤ 4"] = count(
            lambda: router.handle(freed)
        )
        out["waiting conversation now assigned to"] = Conversation.get(
            shop, third["data"]["conversation_id"]
        ).assignee
    return out


# ------------------------------------------------------------------------------ a day


def day_simulation(
    conversations: int = 10_000, n_agents: int = 20, seed: int = 5
) -> dict[str, Any]:
    """Discrete events over 24 h: arrivals follow a daily curve (quiet at night, peaks at 10-12
    and 20-22), handling takes 3-20 min, agents work shifts and take breaks."""
    from kefu.assignment.core import candidate_order
    from kefu.routing.rules import CompiledRules, Facts
    from kefu.storage.conversations import wait_rank
    from kefu.storage.workbench import AgentState

    rng = random.Random(seed)
    day_ms = 86_400_000
    t0 = 1_717_257_600_000  # 2024-06-02 00:00 Asia/Shanghai (a Sunday... weekday irrelevant here)
    queues = ["logistics", "after-sales", "pre-sales", "vip", "default"]
    rules = CompiledRules(_rules(10, random.Random(2)))
    # Agents: mixed capacity, each in two or three queues; the default queue is open to all.
    agents: dict[str, AgentState] = {}
    members: dict[str, set[str]] = {q: set() for q in queues}
    shifts: dict[str, tuple[int, int]] = {}
    for i in range(n_agents):
        name = f"agent{i:02d}"
        a = AgentState(
            "sim",
            f"AGENT#{name}",
            username=name,
            status="offline",
            capacity=rng.choice([2, 3, 4, 5, 6]),
            active=0,
        )
        agents[name] = a
        for q in rng.sample(queues[:4], rng.choice([2, 3])):
            members[q].add(name)
        members["default"].add(name)
        start = [8, 10, 14][i % 3] * 3_600_000
        shifts[name] = (start, min(start + 9 * 3_600_000, day_ms))

    def hourly_weight(h: int) -> float:
        return {
            0: 0.3,
            1: 0.2,
            2: 0.1,
            3: 0.1,
            4: 0.1,
            5: 0.2,
            6: 0.4,
            7: 0.7,
            8: 1.0,
            9: 1.4,
            10: 1.8,
            11: 1.8,
            12: 1.3,
            13: 1.4,
            14: 1.5,
            15: 1.5,
            16: 1.4,
            17: 1.2,
            18: 1.0,
            19: 1.3,
            20: 1.9,
            21: 1.9,
            22: 1.2,
            23: 0.6,
        }[h]

    weights = [hourly_weight(h) for h in range(24)]
    events: list[tuple[int, int, str, Any]] = []
    seq = 0

    def push(at: int, kind: str, payload: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, payload))

    for _ in range(conversations):
        h = rng.choices(range(24), weights)[0]
        at = h * 3_600_000 + rng.randrange(3_600_000)
        push(
            at,
            "open",
            {
                "text": rng.choice(MESSAGES),
                "tier": "vip" if rng.random() < 0.08 else "regular",
                "channel": rng.choice(["wechat_miniprogram", "wechat_miniprogram", "app", "h5"]),
            },
        )
    for name, (start, end) in shifts.items():
        push(start, "online", name)
        # A 30-minute break mid-shift: away, then back online.
        mid = (start + end) // 2
        push(mid, "away", name)
        push(mid + 1_800_000, "online", name)
        push(end, "offline", name)

    waiting: dict[str, list[tuple[str, int, int]]] = {q: [] for q in queues}  # (rank, cid, opened)
    opened_at: dict[int, int] = {}
    waits: list[float] = []
    staffed_waits: list[float] = []  # opened 08:00-23:00, while someone works
    handled = {n: 0 for n in agents}
    load_samples = {n: [] for n in agents}
    over_capacity = 0
    cid_seq = 0

    def assign(name: str, cid: int, now: int) -> None:
        nonlocal over_capacity
        a = agents[name]
        a.active += 1
        a.last_assigned_at = now
        over_capacity += a.active > a.capacity
        handled[name] += 1
        waits.append((now - opened_at[cid]) / 1000)
        if 8 * 3_600_000 <= opened_at[cid] < 23 * 3_600_000:
            staffed_waits.append((now - opened_at[cid]) / 1000)
        push(now + rng.randint(60, 360) * 1000, "resolve", (name, cid))

    def drain(name: str, now: int) -> None:
        a = agents[name]
        while a.has_room():
            heads = [(waiting[q][0], q) for q in queues if name in members[q] and waiting[q]]
            if not heads:
                return
            (_rank, cid, _o), q = min(heads)
            heapq.heappop(waiting[q])
            assign(name, cid, now)

    sample_every = 600_000
    next_sample = 0
    while events:
        now, _, kind, payload = heapq.heappop(events)
        while next_sample <= now:
            for n, a in agents.items():
                if a.status == "online":
                    load_samples[n].append(a.active / a.capacity)
            next_sample += sample_every
        if kind == "open":
            cid_seq += 1
            cid = cid_seq
            opened_at[cid] = now
            d = rules.decide(
                Facts(
                    text=payload["text"],
                    channel=payload["channel"],
                    tier=payload["tier"],
                    at_ms=t0 + now,
                )
            )
            q = d.queue if d.queue in members else "default"
            order = candidate_order("least_loaded", list(agents.values()), members=members[q])
            if order:
                assign(order[0].username, cid, now)
            else:
                heapq.heappush(waiting[q], (wait_rank(d.priority, now), cid, now))
        elif kind == "resolve":
            name, cid = payload
            agents[name].active -= 1
            drain(name, now)  # agent.slot_freed
        elif kind in ("online", "away", "offline"):
            agents[payload].status = kind
            if kind == "online":
                drain(payload, now)  # agent.slot_freed (came online)
    still_waiting = sum(len(w) for w in waiting.values())
    waits.sort()
    staffed_waits.sort()

    def pct(p: float, values: list[float] | None = None) -> float:
        values = waits if values is None else values
        return round(values[min(len(values) - 1, int(p * len(values)))], 1) if values else 0.0

    per_agent = sorted(handled.values())
    per_cap = sorted(handled[n] / agents[n].capacity for n in agents)
    utilisation = {n: statistics.mean(s) for n, s in load_samples.items() if s}
    util = sorted(utilisation.values())
    return {
        "model": "discrete-event, in-memory state, real rule/candidate/wait-rank functions",
        "conversations": conversations,
        "agents": n_agents,
        "assigned": len(waits),
        "still waiting at end of day (arrived after the last shift)": still_waiting,
        "agents over capacity (ever)": over_capacity,
        "assigned immediately (wait 0 s)": f"{sum(w == 0 for w in waits) / max(1, len(waits)):.1%}",
        "waiting time s: p50 / p90 / p99 / max": [
            pct(0.5),
            pct(0.9),
            pct(0.99),
            round(waits[-1], 1) if waits else 0,
        ],
        "opened 08:00-23:00 (staffed): waiting time s p50 / p90 / p99 / max": [
            pct(0.5, staffed_waits),
            pct(0.9, staffed_waits),
            pct(0.99, staffed_waits),
            pct(1.0, staffed_waits),
        ],
        "conversations per agent: min / median / max": [
            per_agent[0],
            statistics.median(per_agent),
            per_agent[-1],
        ],
        "conversations per unit of capacity: min / median / max": [
            round(per_cap[0], 1),
            round(statistics.median(per_cap), 1),
            round(per_cap[-1], 1),
        ],
        "mean load while online (active ÷ capacity): min / median / max": [
            round(util[0], 2),
            round(statistics.median(util), 2),
            round(util[-1], 2),
        ],
    }


def report() -> dict[str, Any]:
    return {
        "routing decision cost": decision_cost(),
        "DynamoDB requests per assignment": requests_per_assignment(),
        "a day of traffic (simulation)": day_simulation(),
    }


if __name__ == "__main__":
    print(json.dumps(report(), ensure_ascii=False, indent=2))
