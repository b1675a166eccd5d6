/** The shapes of kefu's customer API (docs/openapi.yaml: CustomerSession, Message, ...). */

export type Channel = "wechat_miniprogram" | "app" | "h5" | "internal";
export type DeliveryStatus =
  | "pending"
  | "sending"
  | "retrying"
  | "delivered"
  | "undeliverable"
  | "failed"
  | "unknown";

/** POST /v1/auth/wechat and POST /v1/auth/app answer this. */
export interface CustomerSession {
  token: string;
  token_type: "Bearer";
  /** Seconds. */
  expires_in: number;
  customer_id: string;
  shop_id: string;
}

export interface Message {
  message_id: string;
  conversation_id: string;
  /** The message's position; `after=` this returns what came later. */
  cursor: string;
  direction: "in" | "out" | "internal";
  sender_type: "customer" | "agent" | "bot" | "system";
  type: "text" | "image" | "voice" | "product_card" | "order_card" | "event" | "note";
  content: Record<string, unknown>;
  channel: Channel;
  created_at: number;
  delivery_status?: DeliveryStatus | null;
  /**
   * Not in the REST view: the agent's display name, known when the reply arrived over the
   * WebSocket (`reply.created` carries `sender.name`).
   */
  agent_name?: string | null;
}

export interface MessagePage {
  conversation_id: string | null;
  messages: Message[];
  next_cursor: string | null;
  has_more: boolean;
}

export interface SentMessage {
  message: Message;
  conversation_id: string;
  duplicate: boolean;
}

export interface UploadTicket {
  media_key: string;
  upload: { url: string; fields: Record<string, string> };
  expires_in: number;
}

export interface ProductCard {
  product_id: string;
  title: string;
  price?: string;
  image_url?: string;
  page_path?: string;
  category?: string;
}

export interface OrderCard {
  order_id: string;
  title?: string;
  status?: string;
  amount?: string;
  page_path?: string;
}

/** What the customer's client sends (POST /v1/messages), without `client_message_id`. */
export type OutgoingMessage =
  | { type: "text"; text: string }
  | { type: "image"; media_key: string }
  | { type: "voice"; media_key: string; duration_ms: number }
  | ({ type: "product_card" } & ProductCard)
  | ({ type: "order_card" } & OrderCard);

/** One WebSocket frame from kefu (docs/realtime.md). */
export interface Frame {
  type: string;
  event_id?: string;
  at?: number;
  data?: Record<string, unknown>;
  error?: { code: string; message: string };
}

/** What `wx.requestSubscribeMessage` reports per template id. */
export type SubscriptionDecision = "accept" | "reject" | "ban";
