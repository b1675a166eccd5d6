// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import { mount } from "../src/widget/index.js";
import type { WidgetHandle } from "../src/widget/index.js";
import { FakeKefu, last } from "./fake-server.js";

let widget: WidgetHandle | null = null;

afterEach(() => {
  widget?.unmount();
  widget = null;
  document.body.replaceChildren();
});

function open(server: FakeKefu, locale: "zh-CN" | "en" = "zh-CN"): HTMLElement {
  const host = document.createElement("div");
  document.body.appendChild(host);
  widget = mount(host, {
    shopId: server.shopId,
    apiBase: "https://api.example/prod",
    wsUrl: "wss://ws.example/prod",
    token: () => Promise.resolve(server.issueSession()),
    locale,
    transport: server.transport,
  });
  return host;
}

const q = (host: HTMLElement, selector: string): HTMLElement[] => Array.from(host.querySelectorAll<HTMLElement>(selector));

async function live(host: HTMLElement): Promise<void> {
  await vi.waitFor(() => {
    expect(host.querySelector(".kefu-w-state")?.getAttribute("data-state")).toBe("live");
  });
}

async function type(host: HTMLElement, text: string): Promise<void> {
  const input = host.querySelector("textarea");
  if (!input) throw new Error("no input");
  input.value = text;
  host.querySelector("form")?.dispatchEvent(new Event("submit", { cancelable: true }));
  await Promise.resolve();
}

describe("the H5 widget", () => {
  it("shows the conversation so far and a reply as it comes, with the agent's name", async () => {
    const server = new FakeKefu();
    server.agentReply("您好，在的", "小王", false);
    const host = open(server);
    await live(host);
    expect(q(host, ".kefu-w-bubble").map((b) => b.textContent)).toEqual(["您好，在的"]);

    server.agentReply("请问有什么可以帮您？", "小王");

    await vi.waitFor(() => {
      expect(q(host, ".kefu-w-bubble")).toHaveLength(2);
    });
    expect(q(host, ".kefu-w-who").map((w) => w.textContent)).toEqual(["客服", "小王"]);
    expect(host.querySelector(".kefu-w-title")?.textContent).toBe("在线客服 · 小王");
  });

  it("shows what people type as text, never as HTML", async () => {
    const server = new FakeKefu();
    const host = open(server);
    await live(host);

    server.agentReply('<img src=x onerror="alert(1)">', "小王");

    await vi.waitFor(() => {
      expect(q(host, ".kefu-w-bubble")[0]?.textContent).toBe('<img src=x onerror="alert(1)">');
    });
    expect(host.querySelector(".kefu-w-bubble img")).toBeNull();
  });

  it("marks a message sent, or failed with a tap to retry that stores it once", async () => {
    const server = new FakeKefu();
    const host = open(server);
    await live(host);
    server.messageFaults.push({ status: 400, body: '{"error":{"code":"validation_error","message":"x"}}' });

    await type(host, "在吗");
    const status = (): HTMLButtonElement | null => host.querySelector(".kefu-w-msg[data-dir=in] .kefu-w-status");
    await vi.waitFor(() => {
      expect(status()?.dataset.status).toBe("failed");
    });
    expect(status()?.textContent).toBe("发送失败，点此重试");

    status()?.click();

    await vi.waitFor(() => {
      expect(status()?.textContent).toBe("已发送");
    });
    expect(server.messages.map((m) => m.content)).toEqual([{ text: "在吗" }]);
    expect(host.querySelector("textarea")?.value).toBe("");
  });

  it("offers the bot's choices as buttons; a tap sends the choice", async () => {
    const server = new FakeKefu();
    const host = open(server);
    await live(host);

    server.reply(
      { text: "您是不是想问：", choices: [{ index: 1, text: "退货运费谁出" }, { index: 2, text: "可以开发票吗" }] },
      "bot",
      null,
    );
    await vi.waitFor(() => {
      expect(q(host, ".kefu-w-choice").map((b) => b.textContent)).toEqual(["退货运费谁出", "可以开发票吗"]);
    });
    expect(host.querySelector(".kefu-w-who")?.textContent).toBe("智能助手");

    q(host, ".kefu-w-choice")[1]?.click();

    await vi.waitFor(() => {
      expect(last(server.messages)?.content).toEqual({ text: "可以开发票吗" });
    });
  });

  it("speaks English when asked", async () => {
    const server = new FakeKefu();
    const host = open(server, "en");
    await live(host);

    expect(host.querySelector(".kefu-w-title")?.textContent).toBe("Customer service");
    expect(host.querySelector(".kefu-w-state")?.textContent).toBe("Online");
    expect(host.querySelector("textarea")?.placeholder).toBe("Type a message…");
    expect(host.querySelector(".kefu-w-empty")?.textContent).toBe("Hello! How can we help?");
  });

  it("shows product and order cards (here sent from the customer's other device)", async () => {
    const server = new FakeKefu();
    const host = open(server);
    await live(host);
    const elsewhere = server.issueSession();
    for (const card of [
      { type: "product_card", product_id: "sku-1", title: "山茶花护手霜 50ml", price: "39.90" },
      { type: "order_card", order_id: "202405010001", status: "待发货", amount: "129.00" },
    ]) {
      server.handle({
        method: "POST",
        url: "https://api.example/prod/v1/messages",
        headers: { Authorization: `Bearer ${elsewhere.token}` },
        body: JSON.stringify(card),
      });
    }

    server.agentReply("这款有货", "小王"); // the push makes the widget catch up

    await vi.waitFor(() => {
      expect(q(host, ".kefu-w-card").map((c) => c.textContent)).toEqual([
        "山茶花护手霜 50ml¥39.90",
        "订单 202405010001待发货 · 金额 ¥129.00",
      ]);
    });
  });
});
