import { describe, expect, it } from "vitest";
import { KefuApiError, KefuClient, wechatSignIn, wxTransport } from "../src/index.js";
import { FakeKefu, last } from "./fake-server.js";
import { fakeWx } from "./fake-wx.js";

function miniProgramClient(server: FakeKefu) {
  const wx = fakeWx(server);
  const transport = wxTransport(wx);
  const apiBase = "https://api.example/prod";
  const client = new KefuClient({
    apiBase,
    shopId: server.shopId,
    transport,
    signIn: wechatSignIn({ apiBase, shopId: server.shopId, transport, wx }),
    sendRetries: 2,
  });
  return { wx, client };
}

function appClient(server: FakeKefu) {
  // An app or H5 page: the shop's server signs POST /v1/auth/app and hands over the session.
  return new KefuClient({
    apiBase: "https://api.example/prod/",
    shopId: server.shopId,
    transport: server.transport,
    signIn: () => Promise.resolve(server.issueSession()),
  });
}

describe("signing in", () => {
  it("exchanges a wx.login code at POST /v1/auth/wechat and sends the token as a bearer", async () => {
    const server = new FakeKefu();
    const { wx, client } = miniProgramClient(server);

    await client.sendText("你好");

    expect(wx.calls.filter((c) => c.api === "login")).toHaveLength(1);
    const [login, send] = server.requests;
    expect(login).toMatchObject({ method: "POST", path: "/v1/auth/wechat", body: { shop_id: "shop-a", code: "code-1" } });
    expect(send?.headers.Authorization).toBe("Bearer tok-1");
  });

  it("signs in once for concurrent calls", async () => {
    const server = new FakeKefu();
    const { wx, client } = miniProgramClient(server);

    await Promise.all([client.sendText("a"), client.sendText("b"), client.messages()]);

    expect(wx.calls.filter((c) => c.api === "login")).toHaveLength(1);
  });

  it("signs in again after a 401 and retries the call once", async () => {
    const server = new FakeKefu();
    const client = appClient(server);
    await client.sendText("first");
    server.validTokens.clear(); // revoked, or expired early

    const sent = await client.sendText("second");

    expect(sent.message.content).toEqual({ text: "second" });
    expect(server.signIns).toBe(2);
  });

  it("renews a token that is about to expire before using it", async () => {
    const server = new FakeKefu();
    server.expiresIn = 30; // inside the 60-second renewal margin
    const client = appClient(server);

    await client.sendText("a");
    await client.sendText("b");

    expect(server.signIns).toBe(2);
  });

  it("refuses a session for another shop", async () => {
    const server = new FakeKefu();
    const client = new KefuClient({
      apiBase: "https://api.example",
      shopId: "shop-b",
      transport: server.transport,
      signIn: () => Promise.resolve(server.issueSession()),
    });

    await expect(client.sendText("x")).rejects.toMatchObject({ code: "wrong_shop" });
  });
});

describe("sending", () => {
  it("sends text with a client_message_id the API accepts", async () => {
    const server = new FakeKefu();
    const client = appClient(server);

    const sent = await client.sendText("我的快递到哪了？");

    const body = last(server.requests)?.body as Record<string, string>;
    expect(body.type).toBe("text");
    expect(body.client_message_id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect(sent).toMatchObject({ duplicate: false, conversation_id: "cv_1" });
  });

  it("retries a 503 and a 429 (after Retry-After) with the same id: stored once", async () => {
    const server = new FakeKefu();
    const client = appClient(server);
    server.messageFaults.push(
      { status: 503, body: '{"error":{"code":"upstream_unavailable","message":"later"}}' },
      { status: 429, headers: { "retry-after": "0.01" }, body: '{"error":{"code":"rate_limited","message":"slow"}}' },
    );

    const sent = await client.sendText("once");

    const posts = server.requests.filter((r) => r.method === "POST" && r.path === "/v1/messages");
    expect(posts).toHaveLength(3);
    const ids = new Set(posts.map((p) => (p.body as Record<string, string>).client_message_id));
    expect(ids.size).toBe(1);
    expect(server.messages).toHaveLength(1);
    expect(sent.message.content).toEqual({ text: "once" });
  });

  it("does not retry a 400 and reports kefu's error code", async () => {
    const server = new FakeKefu();
    const client = appClient(server);
    server.messageFaults.push({ status: 400, body: '{"error":{"code":"validation_error","message":"text: too long","request_id":"r-9"}}' });

    const error = await client.sendText("x".repeat(10)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(KefuApiError);
    expect(error).toMatchObject({ status: 400, code: "validation_error", requestId: "r-9" });
    expect(server.requests.filter((r) => r.path === "/v1/messages")).toHaveLength(1);
  });

  it("sends product and order cards in the documented shape", async () => {
    const server = new FakeKefu();
    const client = appClient(server);

    await client.sendProductCard({ product_id: "sku-1001", title: "山茶花护手霜 50ml", price: "39.90" });
    await client.sendOrderCard({ order_id: "202405010001", status: "待发货", amount: "129.00" });

    const bodies = server.requests.filter((r) => r.path === "/v1/messages").map((r) => r.body as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ type: "product_card", product_id: "sku-1001", title: "山茶花护手霜 50ml", price: "39.90" });
    expect(bodies[1]).toMatchObject({ type: "order_card", order_id: "202405010001", status: "待发货", amount: "129.00" });
  });

  it("uploads a mini-program picture with wx.uploadFile, then sends its media_key", async () => {
    const server = new FakeKefu();
    const { wx, client } = miniProgramClient(server);

    const sent = await client.sendImage({ contentType: "image/jpeg", size: 2048, path: "wxfile://tmp_1.jpg" });

    const ticketRequest = server.requests.find((r) => r.path === "/v1/media/uploads");
    expect(ticketRequest?.body).toEqual({ content_type: "image/jpeg", size: 2048 });
    const upload = wx.calls.find((c) => c.api === "uploadFile")?.options as Record<string, unknown>;
    expect(upload).toMatchObject({
      url: "https://media.example/upload",
      filePath: "wxfile://tmp_1.jpg",
      name: "file",
      formData: { key: "shop-a/customers/cus_1/pic.jpg", policy: "p" },
    });
    expect(sent.message).toMatchObject({ type: "image", content: { media_key: "shop-a/customers/cus_1/pic.jpg" } });
  });
});

describe("reading messages", () => {
  it("percent-encodes the cursor (it contains #)", async () => {
    const server = new FakeKefu();
    const client = appClient(server);
    const first = await client.sendText("a");
    server.agentReply("b", "小王", false);

    const page = await client.messages({ after: first.message.cursor });

    expect(page.messages.map((m) => m.content.text)).toEqual(["b"]);
    expect(page.next_cursor).toBe(server.messages[1]?.cursor);
  });
});

describe("subscription grants (for the outreach issue: POST /v1/subscriptions)", () => {
  it("reports the customer's choices per template id, without errMsg or filtered templates", async () => {
    const server = new FakeKefu();
    const { wx, client } = miniProgramClient(server);
    wx.subscribeResult = { "tmpl-accept": "accept", "tmpl-reject": "reject", "tmpl-ban": "ban", "tmpl-filtered": "filter" };

    // The endpoint does not exist yet: the server's 404 comes through unchanged.
    const error = await client.requestSubscriptions(wx, ["tmpl-accept", "tmpl-reject", "tmpl-ban", "tmpl-filtered"]).catch((e: unknown) => e);

    const report = server.requests.find((r) => r.path === "/v1/subscriptions");
    expect(report?.method).toBe("POST");
    expect(report?.body).toEqual({ "tmpl-accept": "accept", "tmpl-reject": "reject", "tmpl-ban": "ban" });
    expect(error).toMatchObject({ status: 404 });
  });

  it("sends nothing when the customer decided nothing", async () => {
    const server = new FakeKefu();
    const client = appClient(server);

    const decisions = await client.reportSubscriptions({ errMsg: "requestSubscribeMessage:ok", t1: "filter" });

    expect(decisions).toEqual({});
    expect(server.requests.some((r) => r.path === "/v1/subscriptions")).toBe(false);
  });
});
