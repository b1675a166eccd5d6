"""Specification: reply templates. `{variable}` and `{variable|default}` are filled in one pass;
rendering a keyword rule's replies never raises and yields messages in the stored reply shape;
quick replies share the same implementation (and still refuse to send with a gap)."""

import pytest
from kefu.bot.templates import (
    BOT_VARIABLES,
    check_variables,
    fill,
    missing_variables,
    render_replies,
    variables_in,
)
from kefu.errors import BadRequest, Conflict
from kefu.workbench import quick_replies


def test_variables_are_filled_with_their_value_their_default_or_nothing():
    text = "{customer_name|亲}您好，订单 {latest_order_no} 状态：{latest_order_status}"
    assert variables_in(text) == ["customer_name", "latest_order_no", "latest_order_status"]
    assert (
        fill(text, {"customer_name": "小明", "latest_order_no": "A1"}) == "小明您好，订单 A1 状态："
    )
    assert fill(text, {"customer_name": ""}) == "亲您好，订单  状态："
    assert fill("{nope}x", {}, default="?") == "?x"
    # One pass: a value that looks like a placeholder stays as it is.
    assert (
        fill("{customer_name}", {"customer_name": "{shop_name}", "shop_name": "A"}) == "{shop_name}"
    )
    assert fill('JSON {"a": 1} and {} stay', {}) == 'JSON {"a": 1} and  stay'


def test_unknown_variables_are_refused_when_written():
    assert check_variables("{shop_name|本店}", BOT_VARIABLES) == ["shop_name"]
    with pytest.raises(BadRequest) as err:
        check_variables("{order_status}", BOT_VARIABLES)
    assert err.value.code == "unknown_variable" and "{latest_order_status}" in err.value.message
    assert missing_variables("{customer_name|亲}{tracking_no}", {}) == ["tracking_no"]


def test_replies_render_as_outbound_messages_and_never_raise():
    replies = [
        {"type": "text", "content": "{customer_name|亲}，单号 {tracking_no}"},
        {"type": "image", "media_id": "MEDIA"},
        {"type": "image", "url": "https://img.example/a.png"},
        {
            "type": "miniprogrampage",
            "title": "{shop_name}订单",
            "pagepath": "pages/o",
            "thumb_media_id": "T",
        },
    ]
    rendered = render_replies(replies, {"tracking_no": "SF1", "shop_name": "A店"})
    assert rendered == [
        {"type": "text", "content": {"text": "亲，单号 SF1"}},
        {"type": "image", "content": {"media_id": "MEDIA"}},
        {"type": "image", "content": {"url": "https://img.example/a.png"}},
        {
            "type": "miniprogrampage",
            "content": {"title": "A店订单", "pagepath": "pages/o", "thumb_media_id": "T"},
        },
    ]
    # Damaged or empty data renders what it can: nothing raises.
    junk = [
        {"type": "text", "content": "{customer_name}"},  # renders empty: left out
        {"type": "video", "media_id": "x"},
        {"type": "image"},
        {"type": "miniprogrampage", "title": "t"},
        {},
    ]
    assert render_replies(junk, {}) == []
    assert render_replies(None, {}) == []
    long = render_replies(
        [{"type": "text", "content": "{customer_name}"}], {"customer_name": "长" * 3000}
    )
    assert len(long[0]["content"]["text"]) == 2000


def test_quick_replies_use_the_same_templates_and_refuse_a_gap():
    assert quick_replies.render("您好{customer_name|亲}", {}) == "您好亲"
    assert quick_replies.render("单号 {tracking_number}", {"tracking_number": "SF1"}) == "单号 SF1"
    with pytest.raises(Conflict) as err:
        quick_replies.render("单号 {tracking_number}", {})
    assert err.value.code == "variable_unavailable"
    with pytest.raises(BadRequest):
        quick_replies.variables_of("{tracking_no}")  # a bot variable, not a quick-reply one
