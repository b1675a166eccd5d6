/**
 * KefuClient: one signed-in customer of one shop. Sign-in is a function the client calls
 * whenever it needs a (new) token: `wechatSignIn` in the mini-program, or the shop's own
 * server's answer for an app or H5 page (`POST /v1/auth/app`, signed there — never here).
 */
import { errorFromResponse, KefuApiError } from "./errors.js";
import { LiveConnection } from "./live.js";
import type { LiveHandlers, LiveOptions } from "./live.js";
import type { Transport, UploadFile } from "./transport.js";
import { wxLoginCode } from "./transports/wx.js";
import type { WxLike } from "./transports/wx.js";
import type {
  CustomerSession,
  MessagePage,
  OrderCard,
  OutgoingMessage,
  ProductCard,
  SentMessage,
  SubscriptionDecision,
  UploadTicket,
} from "./types.js";

/** Returns a fresh customer session; called at first use, before expiry and after a 401. */
export type SignIn = () => Promise<CustomerSession>;

export interface KefuClientOptions {
  /** The REST API's base URL (the stack's ApiUrl), e.g. https://abc.execute-api.ap-shanghai.amazonaws.com/prod */
  apiBase: string;
  /** The WebSocket API's URL (WebSocketUrl); without it the client polls. */
  wsUrl?: string;
  shopId: string;
  transport: Transport;
  signIn: SignIn;
  /** How many times a failed send is retried (same client_message_id, so stored once). Default 3. */
  sendRetries?: number;
}

export interface SendOptions {
  /** Reuse to retry a send by hand; generated when absent. */
  clientMessageId?: string;
}

/** Renew this long before the token expires, so no request races the expiry. */
const RENEW_MARGIN_MS = 60_000;

let sequence = 0;

/** A client_message_id: unique per device, allowed by the API (^[A-Za-z0-9_.:-]{1,64}$). */
export function newClientMessageId(now: number = Date.now()): string {
  sequence = (sequence + 1) % 1_000_000;
  const random = Math.floor(Math.random() * 0x100000000).toString(36);
  return `c-${now}-${sequence}-${random}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class KefuClient {
  readonly apiBase: string;
  readonly wsUrl: string | undefined;
  readonly shopId: string;
  readonly transport: Transport;
  private readonly signInFn: SignIn;
  private readonly sendRetries: number;
  private current: { session: CustomerSession; expiresAt: number } | null = null;
  private signingIn: Promise<CustomerSession> | null = null;
  private liveConnection: LiveConnection | null = null;

  constructor(options: KefuClientOptions) {
    this.apiBase = options.apiBase.replace(/\/+$/, "");
    this.wsUrl = options.wsUrl;
    this.shopId = options.shopId;
    this.transport = options.transport;
    this.signInFn = options.signIn;
    this.sendRetries = options.sendRetries ?? 3;
  }

  // -- session ------------------------------------------------------------------------------

  /** The current session, signing in (once, however many callers wait) when needed. */
  async session(): Promise<CustomerSession> {
    if (this.current && Date.now() < this.current.expiresAt - RENEW_MARGIN_MS) {
      return this.current.session;
    }
    if (!this.signingIn) {
      this.signingIn = this.signInFn()
        .then((session) => {
          if (session.shop_id !== this.shopId) {
            throw new KefuApiError(403, "wrong_shop", `signed in to ${session.shop_id}, not ${this.shopId}`);
          }
          this.current = { session, expiresAt: Date.now() + session.expires_in * 1000 };
          return session;
        })
        .finally(() => {
          this.signingIn = null;
        });
    }
    return this.signingIn;
  }

  /** Forget the token (e.g. the user signed out of the shop's app). */
  signOut(): void {
    this.current = null;
    this.liveConnection?.close();
    this.liveConnection = null;
  }

  // -- HTTP ---------------------------------------------------------------------------------

  /** An authenticated call; a 401 signs in again and retries once. */
  async api<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.session();
      const headers: Record<string, string> = { Authorization: `Bearer ${session.token}` };
      const request = { method, url: this.apiBase + path, headers } as Parameters<Transport["request"]>[0];
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        request.body = JSON.stringify(body);
      }
      const response = await this.transport.request(request);
      if (response.status === 401 && attempt === 0) {
        this.current = null; // expired or revoked: one fresh sign-in, then the error stands
        continue;
      }
      if (response.status < 200 || response.status >= 300) {
        throw errorFromResponse(response.status, response.body, response.headers);
      }
      return JSON.parse(response.body) as T;
    }
  }

  // -- messages -----------------------------------------------------------------------------

  /**
   * Send a message; retried on network errors, 5xx and 429 (after Retry-After) with the same
   * client_message_id, which the server stores once.
   */
  async send(message: OutgoingMessage, options: SendOptions = {}): Promise<SentMessage> {
    const clientMessageId = options.clientMessageId ?? newClientMessageId();
    for (let attempt = 0; ; attempt++) {
      try {
        const sent = await this.api<SentMessage>("POST", "/v1/messages", {
          ...message,
          client_message_id: clientMessageId,
        });
        this.liveConnection?.acknowledge(sent.message);
        return sent;
      } catch (error) {
        if (!(error instanceof KefuApiError) || !error.retriable || attempt >= this.sendRetries) {
          throw error;
        }
        await sleep(error.retryAfter !== null ? error.retryAfter * 1000 : 500 * 2 ** attempt);
      }
    }
  }

  sendText(text: string, options?: SendOptions): Promise<SentMessage> {
    return this.send({ type: "text", text }, options);
  }

  sendProductCard(card: ProductCard, options?: SendOptions): Promise<SentMessage> {
    return this.send({ type: "product_card", ...card }, options);
  }

  sendOrderCard(card: OrderCard, options?: SendOptions): Promise<SentMessage> {
    return this.send({ type: "order_card", ...card }, options);
  }

  /** Upload the picture (presigned POST), then send it. */
  async sendImage(file: UploadFile, options?: SendOptions): Promise<SentMessage> {
    const mediaKey = await this.uploadMedia(file);
    return this.send({ type: "image", media_key: mediaKey }, options);
  }

  async uploadMedia(file: UploadFile): Promise<string> {
    const ticket = await this.api<UploadTicket>("POST", "/v1/media/uploads", {
      content_type: file.contentType,
      size: file.size,
    });
    await this.transport.upload(ticket.upload.url, ticket.upload.fields, file);
    return ticket.media_key;
  }

  /**
   * A page of the customer's messages, oldest first: without `after`/`before` the latest
   * ones; `after: page.next_cursor` what came since; `before: messages[0].cursor` older ones.
   */
  messages(query: { after?: string; before?: string; limit?: number; conversationId?: string } = {}): Promise<MessagePage> {
    const params: string[] = [];
    if (query.conversationId) params.push(`conversation_id=${encodeURIComponent(query.conversationId)}`);
    // Cursors contain "#": always percent-encoded.
    if (query.after) params.push(`after=${encodeURIComponent(query.after)}`);
    if (query.before) params.push(`before=${encodeURIComponent(query.before)}`);
    if (query.limit !== undefined) params.push(`limit=${query.limit}`);
    return this.api<MessagePage>("GET", `/v1/messages${params.length ? `?${params.join("&")}` : ""}`);
  }

  // -- real time ----------------------------------------------------------------------------

  /**
   * Receive replies as they come: the WebSocket when it is up, polling `?after=` while it is
   * not; from `options.cursor` (a cursor saved earlier) or the latest page. One per client.
   */
  live(handlers: LiveHandlers, options: LiveOptions = {}): LiveConnection {
    this.liveConnection?.close();
    this.liveConnection = new LiveConnection(this, handlers, options);
    this.liveConnection.start();
    return this.liveConnection;
  }

  /** The WebSocket URL with this session's token (browsers cannot send headers on it). */
  async socketUrl(): Promise<string | null> {
    if (!this.wsUrl) return null;
    const session = await this.session();
    const sep = this.wsUrl.includes("?") ? "&" : "?";
    return `${this.wsUrl}${sep}token=${encodeURIComponent(session.token)}&shop_id=${encodeURIComponent(this.shopId)}`;
  }

  // -- subscriptions (for the outreach issue) -----------------------------------------------

  /**
   * FOR THE OUTREACH ISSUE — `POST /v1/subscriptions` is not served by kefu yet. Reports what
   * the customer chose in `wx.requestSubscribeMessage`, as documented for that issue:
   * `{<template_id>: "accept" | "reject" | "ban"}`. Until the endpoint exists the server
   * answers an error (KefuApiError), which this passes on unchanged.
   */
  async reportSubscriptions(result: Record<string, string>): Promise<Record<string, SubscriptionDecision>> {
    const decisions: Record<string, SubscriptionDecision> = {};
    for (const [templateId, decision] of Object.entries(result)) {
      // wx adds errMsg; "filter" (a template the platform filtered out) is not the customer's choice.
      if (decision === "accept" || decision === "reject" || decision === "ban") {
        decisions[templateId] = decision;
      }
    }
    if (Object.keys(decisions).length === 0) return decisions;
    await this.api<unknown>("POST", "/v1/subscriptions", decisions);
    return decisions;
  }

  /** wx.requestSubscribeMessage (must run in a tap handler), then reportSubscriptions. */
  requestSubscriptions(wx: WxLike, templateIds: string[]): Promise<Record<string, SubscriptionDecision>> {
    const request = wx.requestSubscribeMessage?.bind(wx);
    if (!request) return Promise.reject(new Error("wx.requestSubscribeMessage is not available"));
    return new Promise<Record<string, string>>((resolve, reject) => {
      request({
        tmplIds: templateIds,
        success: resolve,
        fail: (err) => {
          reject(new Error(`wx.requestSubscribeMessage failed: ${err.errMsg}`));
        },
      });
    }).then((result) => this.reportSubscriptions(result));
  }
}

/** Sign-in for the mini-program: wx.login() → POST /v1/auth/wechat. */
export function wechatSignIn(options: { apiBase: string; shopId: string; transport: Transport; wx: WxLike }): SignIn {
  const base = options.apiBase.replace(/\/+$/, "");
  return async () => {
    const code = await wxLoginCode(options.wx);
    const response = await options.transport.request({
      method: "POST",
      url: `${base}/v1/auth/wechat`,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ shop_id: options.shopId, code }),
    });
    if (response.status !== 200) throw errorFromResponse(response.status, response.body, response.headers);
    return JSON.parse(response.body) as CustomerSession;
  };
}
