"""Answers about the customer's own orders: "我的快递到哪了", "什么时候发货", "退款到账了吗".

The intent is found by a small built-in phrase set (one Aho-Corasick pass); the answer comes from
what the shop's back end reported (POST /v1/shop-events -> OrdersTable, read with
kefu.orders.recent_orders: one Query, the customer's newest orders with their latest logistics
update). Only the customer's own orders are ever read: the key is <shop>#<customer_id>.

- no orders: say so, and how to reach a person;
- one order in progress (or none in progress: the latest order): its status and, once shipped,
  the carrier, tracking number and latest logistics update;
- several in progress: a numbered choice ("您有3个进行中的订单，请回复序号…"); the customer's
  reply ("2", or the order number) is answered by the bot turn's choice step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from kefu.bot.settings import normalise
from kefu.matching import KeywordAutomaton

LOGISTICS, SHIPPING, REFUND = "logistics", "shipping", "refund"
INTENT_LABELS = {LOGISTICS: "查询物流", SHIPPING: "询问发货时间", REFUND: "查询退款进度"}
PHRASES = {
    LOGISTICS: (
        "快递",
        "物流",
        "运单",
        "单号",
        "到哪了",
        "到哪里了",
        "包裹",
        "什么时候到",
        "还没到",
        "还没收到",
        "派送",
        "配送",
    ),
    SHIPPING: (
        "什么时候发货",
        "何时发货",
        "几天发货",
        "多久发货",
        "还没发货",
        "发货了吗",
        "发货了没",
        "怎么还不发货",
        "还不发货",
        "没发货",
        "能发货",
    ),
    REFUND: ("退款", "到账", "钱退了", "退的钱", "退回来的钱", "没退", "退了吗"),
}
# When a message says several things ("退款了快递还没到吗"), the more specific intent wins.
PRECEDENCE = (REFUND, SHIPPING, LOGISTICS)
IN_PROGRESS = ("created", "paid", "shipped", "refund_requested")
STATUS_LABELS = {
    "created": "待付款",
    "paid": "已付款，待发货",
    "shipped": "已发货",
    "delivered": "已签收",
    "refund_requested": "退款处理中",
    "refunded": "已退款",
    "cancelled": "已取消",
}
MAX_CHOICES = 5
ZONE = ZoneInfo("Asia/Shanghai")

_automaton = KeywordAutomaton(
    {normalise(phrase): intent for intent, phrases in PHRASES.items() for phrase in phrases}
)


def detect_intent(text: str) -> str | None:
    """logistics | shipping | refund | None."""
    found = {intent for _, intent in _automaton.iter(normalise(text))}
    for intent in PRECEDENCE:
        if intent in found:
            return intent
    return None


def status_label(order: dict[str, Any]) -> str:
    return order.get("shop_status") or STATUS_LABELS.get(order.get("status") or "", "处理中")


def _when(at_ms: int | None) -> str:
    if not at_ms:
        return ""
    local = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(ZONE)
    return f"{local.month}月{local.day}日 {local.hour:02d}:{local.minute:02d}"


def _title(order: dict[str, Any]) -> str:
    items = order.get("items") or []
    if not items:
        return ""
    first = str(items[0].get("title") or "")
    return f"{first}等{len(items)}件商品" if len(items) > 1 else first


def label(order: dict[str, Any]) -> str:
    """One line of a choice: 订单 DEMO-1001（连衣裙，已发货）."""
    parts = [p for p in (_title(order), status_label(order)) if p]
    return f"订单 {order['order_id']}（{'，'.join(parts)}）"


def _logistics_line(order: dict[str, Any]) -> str:
    latest = order.get("latest_logistics") or {}
    text = latest.get("description") or latest.get("status")
    if not text:
        return ""
    where = f"，{latest['location']}" if latest.get("location") else ""
    when = f"（{_when(latest.get('at'))}{where}）" if latest.get("at") else ""
    return f"最新物流：{text}{when}。"


def _shipment(order: dict[str, Any]) -> str:
    carrier = order.get("carrier") or "快递"
    number = order.get("tracking_number")
    sent = f"已由{carrier}发出" + (f"，运单号 {number}" if number else "") + "。"
    return sent + _logistics_line(order)


def answer(intent: str, order: dict[str, Any]) -> str:
    """What the bot says about one order, for the intent asked."""
    name = f"您的订单 {order['order_id']}" + (f"（{_title(order)}）" if _title(order) else "")
    status = order.get("status")
    if intent == REFUND:
        amount = order.get("refund_amount") or order.get("amount")
        money = f" ¥{amount}" if amount else ""
        if status == "refund_requested":
            return (
                f"{name}的退款{money}正在处理中，审核通过后将原路退回，"
                "一般1-3个工作日到账，请耐心等待～"
            )
        if status == "refunded":
            return f"{name}已退款{money}，原路退回，一般1-3个工作日到账，请留意支付账户～"
        return f"{name}目前没有退款记录，当前状态：{status_label(order)}。"
    if status in ("shipped", "delivered"):
        done = "已签收。" if status == "delivered" else ""
        return f"{name}{_shipment(order)}{done}"
    if status == "paid":
        return f"{name}已付款，正在等待发货，商家发货后会第一时间通知您～"
    if status == "created":
        return f"{name}还未付款，付款后商家会尽快为您发货。"
    return f"{name}当前状态：{status_label(order)}。"


@dataclass
class OrderReply:
    kind: str  # answer | choose | none
    text: str
    order_id: str | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "label"}]


NO_ORDERS = "没有查到您的订单记录哦。如需人工帮助，请回复“转人工”联系人工客服。"


def reply_for(intent: str, orders: list[dict[str, Any]]) -> OrderReply:
    """orders: the customer's recent orders, newest first (kefu.orders.recent_orders)."""
    if not orders:
        return OrderReply("none", NO_ORDERS)
    open_orders = [o for o in orders if o.get("status") in IN_PROGRESS]
    if len(open_orders) > 1:
        shown = open_orders[:MAX_CHOICES]
        lines = [f"{i}. {label(o)}" for i, o in enumerate(shown, 1)]
        text = f"您有{len(open_orders)}个进行中的订单，请回复序号查询：\n" + "\n".join(lines)
        return OrderReply(
            "choose",
            text,
            choices=[{"id": o["order_id"], "label": label(o)} for o in shown],
        )
    order = open_orders[0] if open_orders else orders[0]
    return OrderReply("answer", answer(intent, order), order_id=order["order_id"])


def latest_variables(orders: list[dict[str, Any]]) -> dict[str, str]:
    """The keyword-rule template variables about the latest order."""
    if not orders:
        return {}
    latest = orders[0]
    return {
        "latest_order_status": status_label(latest),
        "latest_order_no": str(latest.get("order_id") or ""),
        "tracking_no": str(latest.get("tracking_number") or ""),
    }
