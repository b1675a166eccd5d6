/**
 * LiveConnection: replies as they come. The WebSocket (docs/realtime.md) pushes `reply.created`
 * and `typing`; after every (re)connect and every pushed reply the connection catches up with
 * `GET /v1/messages?after=<cursor>`, so nothing is lost while it was down. While the socket is
 * down it polls the same way and reconnects with backoff. Every message is reported once.
 */
import type { KefuClient } from "./client.js";
import type { Socket } from "./transport.js";
import type { Frame, Message } from "./types.js";

export type LiveState = "connecting" | "live" | "polling" | "closed";

export interface LiveHandlers {
  /** A message not reported before (replies, and the customer's messages from elsewhere). */
  onMessage?(message: Message): void;
  /** A reported message changed (its delivery status, or the agent's name became known). */
  onUpdate?(message: Message): void;
  /** The agent is typing (or stopped). */
  onTyping?(typing: boolean, conversationId: string): void;
  onState?(state: LiveState): void;
  /** A failure the connection recovers from by itself (reported for logs). */
  onError?(error: unknown): void;
  /** The cursor moved: save it to resume from here next time. */
  onCursor?(cursor: string): void;
}

export interface LiveOptions {
  /** Resume after this cursor (saved from onCursor); otherwise start with the latest page. */
  cursor?: string;
  /** While the socket is down. Default 3 s. */
  pollIntervalMs?: number;
  /** Keeps API Gateway's 10-minute idle timeout away. Default 4 min. */
  pingIntervalMs?: number;
  /** Reconnect backoff: first and longest wait. Default 1 s and 30 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** The latest page's size at start. Default 30. */
  initialLimit?: number;
}

/** A typing indicator goes out at most this often while the customer keeps typing. */
const TYPING_REPEAT_MS = 3_000;

export class LiveConnection {
  state: LiveState = "connecting";
  /** The conversation the customer is in (null before their first message). */
  conversationId: string | null = null;
  cursor: string | null;

  private readonly client: KefuClient;
  private readonly handlers: LiveHandlers;
  private readonly pollIntervalMs: number;
  private readonly pingIntervalMs: number;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly initialLimit: number;
  private readonly seen = new Map<string, Message>();
  private readonly agentNames = new Map<string, string>();
  private socket: Socket | null = null;
  private socketOpen = false;
  private attempts = 0;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private catchingUp: Promise<void> | null = null;
  private catchUpAgain = false;
  private lastTypingSent = 0;
  private typingShown = false;

  constructor(client: KefuClient, handlers: LiveHandlers, options: LiveOptions) {
    this.client = client;
    this.handlers = handlers;
    this.cursor = options.cursor ?? null;
    this.pollIntervalMs = options.pollIntervalMs ?? 3_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 240_000;
    this.reconnectMinMs = options.reconnectMinMs ?? 1_000;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 30_000;
    this.initialLimit = options.initialLimit ?? 30;
  }

  start(): void {
    this.setState("connecting");
    void this.catchUp().then(() => {
      if (this.state !== "closed") this.connect();
    });
  }

  close(): void {
    this.setState("closed");
    this.stopPolling();
    this.stopPing();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.socketOpen = false;
    socket?.close();
  }

  /** A message this client sent itself: known, so it is not reported again by a catch-up. */
  acknowledge(message: Message): void {
    this.seen.set(message.message_id, message);
    this.conversationId = message.conversation_id;
  }

  /**
   * Tell the agent the customer is typing (true) or stopped (false). Sent over the socket only
   * (nothing when it is down or before the first message); repeated `true`s are throttled.
   */
  typing(typing: boolean): boolean {
    if (!this.socket || !this.socketOpen || !this.conversationId) return false;
    const now = Date.now();
    if (typing && this.typingShown && now - this.lastTypingSent < TYPING_REPEAT_MS) return false;
    if (!typing && !this.typingShown) return false;
    this.socket.send(JSON.stringify({ action: "typing", conversation_id: this.conversationId, typing }));
    this.typingShown = typing;
    this.lastTypingSent = now;
    return true;
  }

  /** Everything after the cursor (the latest page at first), page by page; one at a time. */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return this.catchingUp;
    }
    this.catchingUp = this.fetchNew()
      .catch((error: unknown) => {
        this.handlers.onError?.(error);
      })
      .finally(() => {
        this.catchingUp = null;
        if (this.catchUpAgain && this.state !== "closed") {
          this.catchUpAgain = false;
          void this.catchUp();
        }
      });
    return this.catchingUp;
  }

  private async fetchNew(): Promise<void> {
    for (let pages = 0; pages < 20 && this.state !== "closed"; pages++) {
      const page = this.cursor
        ? await this.client.messages({ after: this.cursor, limit: 50 })
        : await this.client.messages({ limit: this.initialLimit });
      if (page.conversation_id) this.conversationId = page.conversation_id;
      for (const message of page.messages) this.report(message);
      if (page.next_cursor && page.next_cursor !== this.cursor) {
        this.cursor = page.next_cursor;
        this.handlers.onCursor?.(page.next_cursor);
      }
      // Without a cursor the first page is the latest one: older pages are not "new".
      if (!page.has_more || !page.next_cursor) return;
    }
  }

  private report(incoming: Message): void {
    const name = this.agentNames.get(incoming.message_id);
    const message = name !== undefined ? { ...incoming, agent_name: name } : incoming;
    const known = this.seen.get(message.message_id);
    this.seen.set(message.message_id, { ...known, ...message });
    if (!known) {
      this.handlers.onMessage?.(message);
    } else if (
      known.delivery_status !== message.delivery_status ||
      (message.agent_name && known.agent_name !== message.agent_name)
    ) {
      this.handlers.onUpdate?.({ ...known, ...message });
    }
  }

  // -- the socket ---------------------------------------------------------------------------

  private connect(): void {
    void this.client
      .socketUrl()
      .then((url) => {
        if (this.state === "closed") return;
        if (url === null) {
          this.startPolling(); // no WebSocket configured: polling is the live channel
          return;
        }
        this.socket = this.client.transport.connect(url, {
          onOpen: () => {
            this.onOpen();
          },
          onMessage: (data) => {
            this.onFrame(data);
          },
          onClose: () => {
            this.onClose();
          },
        });
      })
      .catch((error: unknown) => {
        this.handlers.onError?.(error);
        this.onClose();
      });
  }

  private onOpen(): void {
    if (this.state === "closed") return;
    this.socketOpen = true;
    this.attempts = 0;
    this.stopPolling();
    this.setState("live");
    this.stopPing();
    this.pingTimer = setInterval(() => {
      this.socket?.send(JSON.stringify({ action: "ping" }));
    }, this.pingIntervalMs);
    void this.catchUp(); // what arrived while the socket was down
  }

  private onFrame(data: string): void {
    let frame: Frame;
    try {
      frame = JSON.parse(data) as Frame;
    } catch (error) {
      this.handlers.onError?.(error);
      return;
    }
    const body = frame.data ?? {};
    if (frame.type === "reply.created") {
      const messageId = typeof body.message_id === "string" ? body.message_id : "";
      const sender = (body.sender ?? {}) as { type?: string; name?: string | null };
      if (messageId && sender.name) this.agentNames.set(messageId, sender.name);
      const conversationId = typeof body.conversation_id === "string" ? body.conversation_id : null;
      if (conversationId) this.conversationId = conversationId;
      // Shown at once from the frame; the catch-up brings its stored form and moves the cursor.
      if (messageId && typeof body.msg_key === "string" && conversationId) {
        this.report({
          message_id: messageId,
          conversation_id: conversationId,
          cursor: body.msg_key,
          direction: "out",
          sender_type: (sender.type ?? "agent") as Message["sender_type"],
          type: (body.type ?? "text") as Message["type"],
          content: (body.content ?? {}) as Record<string, unknown>,
          channel: (body.channel ?? "h5") as Message["channel"],
          created_at: frame.at ?? Date.now(),
          agent_name: sender.name ?? null,
        });
      }
      void this.catchUp();
    } else if (frame.type === "typing") {
      this.handlers.onTyping?.(body.typing !== false, typeof body.conversation_id === "string" ? body.conversation_id : "");
    } else if (frame.type === "error") {
      this.handlers.onError?.(frame.error ?? frame);
    }
  }

  private onClose(): void {
    this.socket = null;
    this.socketOpen = false;
    this.stopPing();
    if (this.state === "closed") return;
    this.setState("polling");
    this.startPolling();
    const wait = Math.min(this.reconnectMaxMs, this.reconnectMinMs * 2 ** this.attempts);
    this.attempts += 1;
    // Jitter: a shop's customers do not all come back in the same second after an outage.
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state !== "closed") this.connect();
    }, wait * (0.75 + Math.random() * 0.5));
  }

  private startPolling(): void {
    if (this.state !== "polling") this.setState("polling");
    if (this.pollTimer !== null) return;
    this.pollTimer = setInterval(() => {
      void this.catchUp();
    }, this.pollIntervalMs);
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private stopPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private setState(state: LiveState): void {
    if (this.state === state) return;
    this.state = state;
    this.handlers.onState?.(state);
  }
}
