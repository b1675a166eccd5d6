import { afterEach, describe, expect, it, vi } from "vitest";
import { h5Transport, KefuClient, NetworkError } from "../src/index.js";

/** The browser's WebSocket, as far as the H5 transport uses it. */
class FakeWebSocket {
  static last: FakeWebSocket | null = null;
  readonly url: string;
  readonly sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;

  constructor(url: string) {
    this.url = url;
    FakeWebSocket.last = this;
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(): void {
    this.onclose?.({ code: 1000, reason: "" });
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("the H5 transport (fetch, WebSocket, FormData)", () => {
  it("sends JSON with the bearer token over fetch and reads kefu's answer", async () => {
    const fetch = vi.fn((_url: string, _init: RequestInit) =>
      Promise.resolve(new Response('{"conversation_id":null,"messages":[],"next_cursor":null,"has_more":false}', { status: 200, headers: { "Content-Type": "application/json" } })),
    );
    vi.stubGlobal("fetch", fetch);
    const client = new KefuClient({
      apiBase: "https://api.example/prod",
      shopId: "shop-a",
      transport: h5Transport(),
      signIn: () => Promise.resolve({ token: "tok", token_type: "Bearer", expires_in: 7200, customer_id: "c", shop_id: "shop-a" }),
    });

    const page = await client.messages({ after: "1700000000000#msg_1" });

    expect(page.messages).toEqual([]);
    const [url, init] = fetch.mock.calls[0] ?? [];
    expect(url).toBe("https://api.example/prod/v1/messages?after=1700000000000%23msg_1");
    expect(init?.headers).toEqual({ Authorization: "Bearer tok" });
  });

  it("turns a failed fetch into a retriable NetworkError", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));

    const error = await h5Transport().request({ method: "GET", url: "https://x", headers: {} }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).retriable).toBe(true);
  });

  it("uploads the fields first and the file last, as S3's presigned POST requires", async () => {
    const fetch = vi.fn((_url: string, _init: RequestInit) => Promise.resolve(new Response(null, { status: 204 })));
    vi.stubGlobal("fetch", fetch);
    const blob = new Blob(["png"], { type: "image/png" });

    await h5Transport().upload("https://bucket.example/", { key: "k", policy: "p" }, { contentType: "image/png", size: 3, blob });

    const form = fetch.mock.calls[0]?.[1].body as FormData;
    expect([...form.keys()]).toEqual(["key", "policy", "file"]);
  });

  it("reports a socket's frames and its close once, even after an error", () => {
    vi.stubGlobal("WebSocket", FakeWebSocket);
    const frames: string[] = [];
    const closes: number[] = [];
    const socket = h5Transport().connect("wss://ws.example/prod?token=t", {
      onOpen: () => undefined,
      onMessage: (data) => frames.push(data),
      onClose: (code) => closes.push(code),
    });
    const ws = FakeWebSocket.last;

    ws?.onmessage?.({ data: '{"type":"pong"}' });
    socket.send('{"action":"ping"}');
    ws?.onerror?.();
    ws?.onclose?.({ code: 1006, reason: "" });

    expect(frames).toEqual(['{"type":"pong"}']);
    expect(ws?.sent).toEqual(['{"action":"ping"}']);
    expect(closes).toEqual([1006]);
  });
});
