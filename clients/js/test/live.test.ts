import { describe, expect, it, vi } from "vitest";
import { KefuClient, wechatSignIn, wxTransport } from "../src/index.js";
import type { LiveState, Message } from "../src/index.js";
import { FakeKefu, last } from "./fake-server.js";
import { fakeWx } from "./fake-wx.js";

const FAST = { pollIntervalMs: 20, reconnectMinMs: 30, reconnectMaxMs: 60, pingIntervalMs: 40 };

function setUp(options: { ws?: boolean; miniProgram?: boolean } = {}) {
  const server = new FakeKefu();
  const apiBase = "https://api.example/prod";
  const wsUrl = options.ws === false ? undefined : "wss://ws.example/prod";
  let client: KefuClient;
  if (options.miniProgram) {
    const wx = fakeWx(server);
    const transport = wxTransport(wx);
    client = new KefuClient({ apiBase, ...(wsUrl ? { wsUrl } : {}), shopId: server.shopId, transport, signIn: wechatSignIn({ apiBase, shopId: server.shopId, transport, wx }) });
  } else {
    client = new KefuClient({ apiBase, ...(wsUrl ? { wsUrl } : {}), shopId: server.shopId, transport: server.transport, signIn: () => Promise.resolve(server.issueSession()) });
  }
  const received: Message[] = [];
  const updates: Message[] = [];
  const states: LiveState[] = [];
  const typing: boolean[] = [];
  const cursors: string[] = [];
  const handlers = {
    onMessage: (m: Message) => received.push(m),
    onUpdate: (m: Message) => updates.push(m),
    onState: (s: LiveState) => states.push(s),
    onTyping: (t: boolean) => typing.push(t),
    onCursor: (c: string) => cursors.push(c),
  };
  return { server, client, received, updates, states, typing, cursors, handlers };
}

const texts = (messages: Message[]) => messages.map((m) => m.content.text);

describe("live replies", () => {
  it("starts with the latest page, then shows a pushed reply at once with the agent's name, once", async () => {
    const { server, client, received, states, handlers } = setUp({ miniProgram: true });
    server.agentReply("欢迎光临", "小王", false);
    const live = client.live(handlers, FAST);
    await vi.waitFor(() => {
      expect(live.state).toBe("live");
    });
    expect(texts(received)).toEqual(["欢迎光临"]);

    server.agentReply("您好，有什么可以帮您？", "小王");
    await vi.waitFor(() => {
      expect(live.cursor).toBe(last(server.messages)?.cursor);
    });

    expect(texts(received)).toEqual(["欢迎光临", "您好，有什么可以帮您？"]);
    expect(received[1]?.agent_name).toBe("小王");
    expect(states).toEqual(["live"]);
    expect(server.sockets[0]?.token).toBe("tok-1"); // the token rides in the query (browsers send no headers)
    live.close();
  });

  it("does not report the customer's own sends back, but moves past them", async () => {
    const { server, client, received, handlers } = setUp();
    const live = client.live(handlers, FAST);
    await vi.waitFor(() => {
      expect(live.state).toBe("live");
    });

    await client.sendText("在吗？");
    server.agentReply("在的", "小王");
    await vi.waitFor(() => {
      expect(live.cursor).toBe(last(server.messages)?.cursor);
    });

    expect(texts(received)).toEqual(["在的"]);
    expect(live.conversationId).toBe("cv_1");
    live.close();
  });

  it("polls while the socket is down, reconnects, and loses or repeats nothing", async () => {
    const { server, client, received, states, handlers } = setUp();
    const live = client.live(handlers, FAST);
    await vi.waitFor(() => {
      expect(live.state).toBe("live");
    });
    server.refuseSockets = true;
    server.dropSockets();
    expect(live.state).toBe("polling");

    server.agentReply("掉线时的回复", "小王"); // pushed to nobody
    await vi.waitFor(() => {
      expect(texts(received)).toEqual(["掉线时的回复"]);
    });
    server.refuseSockets = false;
    await vi.waitFor(() => {
      expect(live.state).toBe("live");
    });
    server.agentReply("重连后的回复", "小王");
    await vi.waitFor(() => {
      expect(texts(received)).toEqual(["掉线时的回复", "重连后的回复"]);
    });

    expect(states).toEqual(["live", "polling", "live"]);
    expect(server.openSockets).toHaveLength(1);
    live.close();
    expect(server.openSockets).toHaveLength(0);
  });

  it("resumes after a saved cursor: only what came later is reported", async () => {
    const { server, client, received, handlers } = setUp({ ws: false });
    server.agentReply("旧消息", "小王", false);
    const saved = server.messages[0]?.cursor;
    server.agentReply("新消息", "小王", false);

    const live = client.live(handlers, { ...FAST, ...(saved ? { cursor: saved } : {}) });
    await vi.waitFor(() => {
      expect(texts(received)).toEqual(["新消息"]);
    });

    expect(live.state).toBe("polling"); // no WebSocket URL: polling is the live channel
    live.close();
  });

  it("reports the moving cursor, so an app can save it", async () => {
    const { server, client, cursors, handlers } = setUp({ ws: false });
    const live = client.live(handlers, FAST);
    server.agentReply("一", "小王", false);
    await vi.waitFor(() => {
      expect(cursors).toEqual([server.messages[0]?.cursor]);
    });
    live.close();
  });

  it("keeps the socket open with pings", async () => {
    const { server, client, handlers } = setUp();
    const live = client.live(handlers, FAST);
    await vi.waitFor(() => {
      expect(server.sockets[0]?.sent.some((f) => f.action === "ping")).toBe(true);
    });
    live.close();
  });
});

describe("typing", () => {
  it("relays the customer's typing for their conversation, throttled, and the agent's to onTyping", async () => {
    const { server, client, typing, handlers } = setUp();
    const live = client.live(handlers, FAST);
    await vi.waitFor(() => {
      expect(live.state).toBe("live");
    });
    expect(live.typing(true)).toBe(false); // no conversation yet: nothing to type in
    await client.sendText("我想问一下");

    expect(live.typing(true)).toBe(true);
    expect(live.typing(true)).toBe(false); // within 3 s of the last one
    expect(live.typing(false)).toBe(true);
    server.push({ type: "typing", data: { conversation_id: "cv_1", typing: true } });

    const frames = server.sockets[0]?.sent.filter((f) => f.action === "typing");
    expect(frames).toEqual([
      { action: "typing", conversation_id: "cv_1", typing: true },
      { action: "typing", conversation_id: "cv_1", typing: false },
    ]);
    expect(typing).toEqual([true]);
    live.close();
  });
});
