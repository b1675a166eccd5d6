"""The floor: queues and routing rules (supervisors), agents' status and load, transfers."""

from chalice import Chalice, Response
from kefu.assignment import agents
from kefu.assignment.transfer import TransferRequest, transfer
from kefu.http import body, install_error_handling, json_response, query, staff_actor
from kefu.routing import admin
from kefu.routing.rules import RoutingRulesPut

app = Chalice(app_name="kefu-agents")
install_error_handling(app)


@app.route("/v1/queues", methods=["GET"])
def list_queues() -> Response:
    return json_response({"queues": admin.list_queues(staff_actor(app))})


@app.route("/v1/queues", methods=["POST"])
def create_queue() -> Response:
    actor = staff_actor(app)
    return json_response(admin.create_queue(actor, body(app, admin.NewQueue)), status=201)


@app.route("/v1/queues/{queue_id}", methods=["PATCH"])
def update_queue(queue_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(admin.update_queue(actor, queue_id, body(app, admin.QueueChange)))


@app.route("/v1/routing/rules", methods=["GET"])
def get_rules() -> Response:
    return json_response(admin.get_rules(staff_actor(app)))


@app.route("/v1/routing/rules", methods=["PUT"])
def put_rules() -> Response:
    actor = staff_actor(app)
    # A large rule set is allowed a larger body (10,000 rules fit in about 2 MB of JSON).
    return json_response(admin.put_rules(actor, body(app, RoutingRulesPut, max_bytes=4_000_000)))


@app.route("/v1/agents/me/status", methods=["PUT"])
def my_status() -> Response:
    actor = staff_actor(app)
    return json_response(agents.set_my_status(actor, body(app, agents.StatusChange)))


@app.route("/v1/agents", methods=["GET"])
def list_agents() -> Response:
    actor = staff_actor(app)
    return json_response({"agents": agents.list_agents(actor, status=query(app, "status"))})


@app.route("/v1/agents/{username}", methods=["PUT"])
def update_agent(username: str) -> Response:
    actor = staff_actor(app)
    return json_response(agents.update_agent(actor, username, body(app, agents.AgentChange)))


@app.route("/v1/conversations/{conversation_id}/transfer", methods=["POST"])
def transfer_conversation(conversation_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(transfer(actor, conversation_id, body(app, TransferRequest)))
