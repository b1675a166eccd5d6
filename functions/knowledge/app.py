"""The knowledge base (知识库): entries with versions, CSV/XLSX import and export, the shop
dictionary, publishing the bot's index (requested here, built by the knowledge_publisher
function). `?scope=platform` works on the platform-wide entries (platform staff only).
Domain: kefu.knowledge."""

from chalice import Chalice, Response
from kefu.http import body, install_error_handling, json_response, query, request_id, staff_actor
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-knowledge")
install_error_handling(app)


@app.route("/v1/knowledge", methods=["GET"])
def get_head() -> Response:
    from kefu.knowledge import publish

    return json_response(publish.get_head(staff_actor(app), query(app, "scope")))


@app.route("/v1/knowledge/entries", methods=["POST"])
def create_entry() -> Response:
    from kefu.knowledge.entries import NewKbEntry, create_entry

    actor = staff_actor(app)
    entry = create_entry(actor, query(app, "scope"), body(app, NewKbEntry))
    return json_response(entry, status=201)


@app.route("/v1/knowledge/entries", methods=["GET"])
def list_entries() -> Response:
    from kefu.knowledge import entries

    actor = staff_actor(app)
    items, cursor = entries.list_entries(
        actor,
        query(app, "scope"),
        category=query(app, "category"),
        tag=query(app, "tag"),
        enabled=query(app, "enabled"),
        text=query(app, "q"),
        limit=page_limit(query(app, "limit"), 50),
        cursor=query(app, "cursor"),
    )
    return json_response({"entries": items, "next_cursor": cursor})


@app.route("/v1/knowledge/entries/{entry_id}", methods=["GET"])
def get_entry(entry_id: str) -> Response:
    from kefu.knowledge import entries

    return json_response(entries.get_entry(staff_actor(app), query(app, "scope"), entry_id))


@app.route("/v1/knowledge/entries/{entry_id}", methods=["PATCH"])
def update_entry(entry_id: str) -> Response:
    from kefu.knowledge.entries import KbEntryChange, update_entry

    actor = staff_actor(app)
    change = body(app, KbEntryChange)
    return json_response(update_entry(actor, query(app, "scope"), entry_id, change))


@app.route("/v1/knowledge/entries/{entry_id}", methods=["DELETE"])
def delete_entry(entry_id: str) -> Response:
    from kefu.knowledge import entries

    actor = staff_actor(app)
    return json_response(
        entries.delete_entry(actor, query(app, "scope"), entry_id, revision=query(app, "revision"))
    )


@app.route("/v1/knowledge/entries/{entry_id}/versions", methods=["GET"])
def list_versions(entry_id: str) -> Response:
    from kefu.knowledge import entries

    actor = staff_actor(app)
    items, cursor = entries.list_versions(
        actor,
        query(app, "scope"),
        entry_id,
        limit=page_limit(query(app, "limit"), 20),
        cursor=query(app, "cursor"),
    )
    return json_response({"versions": items, "next_cursor": cursor})


@app.route("/v1/knowledge/entries/{entry_id}/versions/{revision}/restore", methods=["POST"])
def restore_version(entry_id: str, revision: str) -> Response:
    from kefu.knowledge.entries import KbRestore, restore_version

    actor = staff_actor(app)
    req = body(app, KbRestore)
    return json_response(restore_version(actor, query(app, "scope"), entry_id, revision, req))


@app.route("/v1/knowledge/import", methods=["POST"])
def import_entries() -> Response:
    from kefu.knowledge.transfer import MAX_IMPORT_BODY, KbImport, import_entries

    actor = staff_actor(app)
    req = body(app, KbImport, max_bytes=MAX_IMPORT_BODY)
    return json_response(import_entries(actor, query(app, "scope"), req))


@app.route("/v1/knowledge/export", methods=["GET"])
def export_entries() -> Response:
    from kefu.audit import record_access
    from kefu.knowledge import transfer

    actor = staff_actor(app)
    scope = query(app, "scope")
    exported = transfer.export_entries(actor, scope, query(app, "format"))
    # Exports are audited; the record is written before the file is handed over.
    record_access(
        actor,
        action="knowledge.exported",
        target_type="kb",
        target_id=scope or "shop",
        details={"format": exported["format"], "entry_count": exported["entry_count"]},
        request_id=request_id(app),
    )
    return json_response(exported)


@app.route("/v1/knowledge/dictionary", methods=["GET"])
def get_dictionary() -> Response:
    from kefu.knowledge import publish

    return json_response(publish.get_dictionary(staff_actor(app), query(app, "scope")))


@app.route("/v1/knowledge/dictionary", methods=["PUT"])
def put_dictionary() -> Response:
    from kefu.knowledge.publish import KbDictionary, put_dictionary

    actor = staff_actor(app)
    return json_response(put_dictionary(actor, query(app, "scope"), body(app, KbDictionary)))


@app.route("/v1/knowledge/publish", methods=["POST"])
def publish() -> Response:
    from kefu.knowledge import publish as kb_publish

    # Built by the knowledge_publisher function: poll GET /v1/knowledge until `publishing` ends.
    answer = kb_publish.request_publish(staff_actor(app), query(app, "scope"))
    return json_response(answer, status=202 if answer["status"] == "publishing" else 200)


@app.route("/v1/knowledge/publishes", methods=["GET"])
def list_publishes() -> Response:
    from kefu.knowledge import publish

    actor = staff_actor(app)
    items, cursor = publish.list_publishes(
        actor,
        query(app, "scope"),
        limit=page_limit(query(app, "limit"), 20),
        cursor=query(app, "cursor"),
    )
    return json_response({"publishes": items, "next_cursor": cursor})


@app.route("/v1/knowledge/publishes/{version}/restore", methods=["POST"])
def restore_publish(version: str) -> Response:
    from kefu.knowledge import publish

    actor = staff_actor(app)
    return json_response(publish.restore_publish(actor, query(app, "scope"), version), status=201)


@app.route("/v1/knowledge/try", methods=["POST"])
def try_question() -> Response:
    from kefu.knowledge.trial import KbTrial, try_question

    actor = staff_actor(app)
    return json_response(try_question(actor, body(app, KbTrial)))
