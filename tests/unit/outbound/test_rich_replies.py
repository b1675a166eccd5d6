"""Specification: replies the bot sends from its answers and keyword rules — a picture by WeChat
media id, a mini-program card — go out as WeChat customer-service messages without an upload."""

import pytest
from kefu import outbound
from kefu.events_catalog import ReplyCreated


def _reply(kind: str, content: dict) -> ReplyCreated:
    return ReplyCreated(conversation_id="c1", message_id="m1", type=kind, content=content)


def test_a_picture_by_media_id_and_a_mini_program_card_are_sent_as_they_are():
    image = outbound._wechat_payload(None, "token", "o1", _reply("image", {"media_id": "M1"}))
    assert image == {"touser": "o1", "msgtype": "image", "image": {"media_id": "M1"}}
    card = {"title": "新品上架", "pagepath": "pages/item?id=1", "thumb_media_id": "T1"}
    sent = outbound._wechat_payload(None, "token", "o1", _reply("miniprogrampage", card))
    assert sent == {"touser": "o1", "msgtype": "miniprogrampage", "miniprogrampage": card}


def test_a_picture_by_url_is_undeliverable_on_wechat_with_a_reason():
    with pytest.raises(outbound._Undeliverable, match="by URL"):
        outbound._wechat_payload(None, "token", "o1", _reply("image", {"url": "https://x/y.png"}))
