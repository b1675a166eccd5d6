/**
 * An in-memory kefu for the SDK's tests: the customer endpoints of docs/openapi.yaml and the
 * WebSocket frames of docs/realtime.md, enough to check what the SDK sends and how it reacts.
 * `transport` plays the network for it (as fetch/WebSocket or wx.request/connectSocket would).
 */
import type { HttpRequest, HttpResponse, Socket, SocketHandlers, Transport, UploadFile } from "../src/transport.js";
import type { Message } from "../src/types.js";

interface Fault {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

interface FakeSocket {
  token: string;
  handlers: SocketHandlers;
  open: boolean;
  sent: Record<string, unknown>[];
}

/** The last item (Array.prototype.at is ES2022; the SDK targets older mini-program runtimes). */
export function last<T>(items: T[]): T | undefined {
  return items[items.length - 1];
}

export class FakeKefu {
  readonly shopId = "shop-a";
  readonly customerId = "cus_1";
  readonly requests: { method: string; path: string; headers: Record<string, string>; body: unknown }[] = [];
  readonly uploads: { url: string; fields: Record<string, string>; file: UploadFile }[] = [];
  readonly sockets: FakeSocket[] = [];
  readonly messages: Message[] = [];
  readonly validTokens = new Set<string>();
  /** Answers for the next POST /v1/messages, in order, before it is stored. */
  readonly messageFaults: Fault[] = [];
  refuseSockets = false;
  expiresIn = 7200;
  signIns = 0;
  private clock = 1_700_000_000_000;
  private seq = 0;
  private readonly clientIds = new Map<string, Message>();

  transport: Transport = {
    request: (req) => Promise.resolve(this.handle(req)),
    connect: (url, handlers) => this.connect(url, handlers),
    upload: (url, fields, file) => {
      this.uploads.push({ url, fields, file });
      return Promise.resolve();
    },
  };

  /** A session as the shop's server (POST /v1/auth/app) or /v1/auth/wechat would answer. */
  issueSession(): { token: string; token_type: "Bearer"; expires_in: number; customer_id: string; shop_id: string } {
    this.signIns += 1;
    const token = `tok-${this.signIns}`;
    this.validTokens.add(token);
    return { token, token_type: "Bearer", expires_in: this.expiresIn, customer_id: this.customerId, shop_id: this.shopId };
  }

  handle(req: HttpRequest): HttpResponse {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/prod(?=\/)/, ""); // the API's stage
    const body: unknown = req.body !== undefined ? JSON.parse(req.body) : undefined;
    this.requests.push({ method: req.method, path, headers: req.headers, body });
    const route = `${req.method} ${path}`;
    if (route === "POST /v1/auth/wechat") {
      const { shop_id, code } = body as { shop_id: string; code: string };
      if (shop_id !== this.shopId || !code.startsWith("code-")) return this.error(400, "invalid_code");
      return this.json(200, this.issueSession());
    }
    const token = (req.headers.Authorization ?? "").replace(/^Bearer /, "");
    if (!this.validTokens.has(token)) return this.error(401, "invalid_token");
    switch (route) {
      case "POST /v1/messages":
        return this.postMessage(body as Record<string, unknown>);
      case "GET /v1/messages":
        return this.getMessages(url.searchParams);
      case "POST /v1/media/uploads":
        return this.json(201, {
          media_key: "shop-a/customers/cus_1/pic.jpg",
          upload: { url: "https://media.example/upload", fields: { key: "shop-a/customers/cus_1/pic.jpg", policy: "p" } },
          expires_in: 600,
        });
      default:
        return this.error(404, "not_found");
    }
  }

  /** An agent's reply: stored, and pushed as `reply.created` to the customer's open sockets. */
  agentReply(text: string, agentName: string | null = "小王", push = true): Message {
    return this.reply({ text }, "agent", agentName, push);
  }

  /** A reply of any sender with any text content (e.g. the bot's `choices`). */
  reply(content: Record<string, unknown>, senderType: "agent" | "bot", agentName: string | null, push = true): Message {
    const message = this.store({ direction: "out", sender_type: senderType, type: "text", content });
    message.delivery_status = "delivered";
    if (push) {
      this.push({
        type: "reply.created",
        event_id: `ev-${message.message_id}`,
        at: message.created_at,
        data: {
          conversation_id: message.conversation_id,
          message_id: message.message_id,
          msg_key: message.cursor,
          customer_id: this.customerId,
          channel: "h5",
          type: "text",
          content,
          sender: senderType === "agent" ? { type: "agent", name: agentName } : { type: senderType },
        },
      });
    }
    return message;
  }

  push(frame: Record<string, unknown>): void {
    for (const socket of this.sockets) if (socket.open) socket.handlers.onMessage(JSON.stringify(frame));
  }

  /** The network drops every socket (as a lost connection or API Gateway's 2-hour limit). */
  dropSockets(): void {
    for (const socket of this.sockets) {
      if (socket.open) {
        socket.open = false;
        socket.handlers.onClose(1006, "dropped");
      }
    }
  }

  get openSockets(): FakeSocket[] {
    return this.sockets.filter((s) => s.open);
  }

  private connect(url: string, handlers: SocketHandlers): Socket {
    const token = new URL(url).searchParams.get("token") ?? "";
    const socket: FakeSocket = { token, handlers, open: false, sent: [] };
    this.sockets.push(socket);
    setTimeout(() => {
      if (this.refuseSockets || !this.validTokens.has(token)) {
        handlers.onClose(1006, "refused");
        return;
      }
      socket.open = true;
      handlers.onOpen();
    }, 0);
    return {
      send: (data) => {
        if (!socket.open) throw new Error("send on a closed socket");
        const frame = JSON.parse(data) as Record<string, unknown>;
        socket.sent.push(frame);
        if (frame.action === "ping") handlers.onMessage(JSON.stringify({ type: "pong", at: this.clock }));
      },
      close: () => {
        if (socket.open) {
          socket.open = false;
          handlers.onClose(1000, "");
        }
      },
    };
  }

  private postMessage(body: Record<string, unknown>): HttpResponse {
    const fault = this.messageFaults.shift();
    if (fault) return { status: fault.status, headers: fault.headers ?? {}, body: fault.body ?? "" };
    const clientId = body.client_message_id as string | undefined;
    const previous = clientId ? this.clientIds.get(clientId) : undefined;
    if (previous) return this.json(200, { message: previous, conversation_id: previous.conversation_id, duplicate: true });
    const content = { ...body };
    const type = content.type;
    delete content.type;
    delete content.client_message_id;
    const message = this.store({ direction: "in", sender_type: "customer", type: type as Message["type"], content });
    if (clientId) this.clientIds.set(clientId, message);
    return this.json(201, { message, conversation_id: message.conversation_id, duplicate: false });
  }

  private getMessages(params: URLSearchParams): HttpResponse {
    const after = params.get("after");
    const limit = Number(params.get("limit") ?? 50);
    let page: Message[];
    let hasMore: boolean;
    if (after) {
      const newer = this.messages.filter((m) => m.cursor > after);
      page = newer.slice(0, limit);
      hasMore = newer.length > limit;
    } else {
      page = this.messages.slice(-limit);
      hasMore = this.messages.length > limit;
    }
    const last = page[page.length - 1];
    return this.json(200, {
      conversation_id: this.messages.length ? "cv_1" : null,
      messages: page,
      next_cursor: last ? last.cursor : after,
      has_more: hasMore,
    });
  }

  private store(fields: Pick<Message, "direction" | "sender_type" | "type" | "content">): Message {
    this.clock += 1000;
    this.seq += 1;
    const id = `msg_${String(this.seq).padStart(4, "0")}`;
    const message: Message = {
      message_id: id,
      conversation_id: "cv_1",
      cursor: `${this.clock}#${id}`,
      channel: "h5",
      created_at: this.clock,
      ...fields,
    };
    this.messages.push(message);
    return message;
  }

  private json(status: number, data: unknown): HttpResponse {
    return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(data) };
  }

  private error(status: number, code: string): HttpResponse {
    return this.json(status, { error: { code, message: code, request_id: "req-1" } });
  }
}
