"""Tickets with SLAs: create (from a conversation or directly), list, read with history,
change, comment; the shop's SLA calendar and policies (supervisors)."""

from chalice import Chalice, Response
from kefu.http import body, install_error_handling, json_response, query, staff_actor
from kefu.pagination import page_limit
from kefu.tickets import service, settings, sla

app = Chalice(app_name="kefu-tickets")
install_error_handling(app)


@app.route("/v1/tickets", methods=["POST"])
def create_ticket() -> Response:
    actor = staff_actor(app)
    req = body(app, service.NewTicket)
    return json_response(service.create_ticket(actor, req, customer_id=req.customer_id), 201)


@app.route("/v1/conversations/{conversation_id}/tickets", methods=["POST"])
def create_from_conversation(conversation_id: str) -> Response:
    actor = staff_actor(app)
    req = body(app, service.ConversationTicket)
    return json_response(service.create_from_conversation(actor, conversation_id, req), 201)


@app.route("/v1/tickets", methods=["GET"])
def list_tickets() -> Response:
    actor = staff_actor(app)
    items, cursor = service.list_tickets(
        actor,
        status=query(app, "status"),
        assignee=query(app, "assignee"),
        customer_id=query(app, "customer_id"),
        priority=query(app, "priority"),
        department=query(app, "department"),
        limit=page_limit(query(app, "limit"), 20),
        cursor=query(app, "cursor"),
    )
    return json_response({"tickets": items, "next_cursor": cursor})


@app.route("/v1/tickets/{ticket_id}", methods=["GET"])
def get_ticket(ticket_id: str) -> Response:
    return json_response(service.get_ticket(staff_actor(app), ticket_id))


@app.route("/v1/tickets/{ticket_id}", methods=["PATCH"])
def update_ticket(ticket_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(service.update_ticket(actor, ticket_id, body(app, service.TicketChange)))


@app.route("/v1/tickets/{ticket_id}/comments", methods=["POST"])
def add_comment(ticket_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(service.add_comment(actor, ticket_id, body(app, service.NewComment)), 201)


@app.route("/v1/sla/calendar", methods=["GET"])
def get_calendar() -> Response:
    return json_response(settings.get_calendar(staff_actor(app)))


@app.route("/v1/sla/calendar", methods=["PUT"])
def put_calendar() -> Response:
    actor = staff_actor(app)
    return json_response(settings.put_calendar(actor, body(app, sla.CalendarBody)))


@app.route("/v1/sla/policies", methods=["GET"])
def get_policies() -> Response:
    return json_response(settings.get_policies(staff_actor(app)))


@app.route("/v1/sla/policies", methods=["PUT"])
def put_policies() -> Response:
    actor = staff_actor(app)
    return json_response(settings.put_policies(actor, body(app, sla.SlaPoliciesBody)))
