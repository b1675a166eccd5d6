"""Specification: the bench counts every function a customer message and its reply pass
through, shows the pipeline's functions even when they made no request, and prints the total
beside the per-function figures."""

from infra.bench.__main__ import render_tables
from infra.bench.aws_calls import Call
from infra.bench.pipeline import PIPELINE, TOTAL, per_function, per_operation


def _call(function: str | None, operation: str = "GetItem", table: str = "t-conv") -> Call:
    return Call("dynamodb", operation, (table,), 1.0, function)


CALLS = [
    _call("IntakeFunction", "PutItem"),
    _call("IntakeFunction"),
    _call("NotifierFunction", "Query", "t-conn"),
    _call("NotifierFunction"),
    _call("OutboundFunction", "UpdateItem"),
    _call("TicketNotifierFunction"),  # a consumer outside the usual list still counts
]


def test_every_function_and_the_total():
    figures = per_function(CALLS)
    assert list(figures)[: len(PIPELINE)] == list(PIPELINE)
    assert figures["Routing"] == 0 and figures["Autoreply"] == 0
    assert (figures["Intake"], figures["Notifier"], figures["Outbound"]) == (2, 2, 1)
    assert figures["TicketNotifier"] == 1
    assert figures[TOTAL] == len(CALLS)


def test_the_total_is_printed_beside_the_per_function_figures():
    inbound, reply = CALLS[:3], CALLS[3:]
    columns = list(per_function(CALLS))[:-1]
    grid = {"in": per_function(inbound, columns), "reply": per_function(reply, columns)}
    lines = render_tables({"pipeline": grid}).splitlines()
    header = next(line for line in lines if "TOTAL" in line).split()
    assert header[-1] == TOTAL and header[:3] == ["Intake", "Routing", "Autoreply"]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith(("in", "re"))}
    assert rows["in"][-1] == "3" and rows["reply"][-1] == "3"
    assert rows["in"][header.index("Notifier")] == "1"


def test_operations_are_named_per_function_with_their_tables():
    ops = per_operation(CALLS, {"conversations": "t-conv", "connections": "t-conn"})
    assert ops["Notifier"] == "Query connections, GetItem conversations"
