/**
 * The H5 chat widget: `Kefu.mount(element, {shopId, apiBase, wsUrl, token})` in a web page or an
 * app's webview. `token` returns the customer session the shop's own server got from
 * `POST /v1/auth/app` (docs/integration.md); the widget never sees the signing key.
 */
import { KefuClient } from "../client.js";
import type { LiveConnection, LiveState } from "../live.js";
import type { Transport } from "../transport.js";
import { h5Transport } from "../transports/h5.js";
import type { CustomerSession, Message, OutgoingMessage } from "../types.js";
import { newClientMessageId } from "../client.js";
import { detectLocale, messagesFor } from "./i18n.js";
import type { Locale, Messages } from "./i18n.js";
import { CSS } from "./style.js";

export interface MountOptions {
  shopId: string;
  /** The REST API's base URL (the stack's ApiUrl). */
  apiBase: string;
  /** The WebSocket API's URL (WebSocketUrl); without it the widget polls. */
  wsUrl?: string;
  /** The customer session, from the shop's server (which signs POST /v1/auth/app). */
  token: () => Promise<CustomerSession>;
  /** "zh-CN" (default for Chinese browsers) or "en". */
  locale?: Locale;
  /** The header's title (default: 在线客服 / Customer service). */
  title?: string;
  /** For tests. */
  transport?: Transport;
}

export interface WidgetHandle {
  client: KefuClient;
  live: LiveConnection;
  unmount(): void;
}

const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
const TYPING_SHOWN_MS = 6_000;
const IDLE_TYPING_MS = 4_000;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text; // text only: nothing a customer or agent types becomes HTML
  return node;
}

function installStyle(): void {
  if (document.getElementById("kefu-w-style")) return;
  const style = document.createElement("style");
  style.id = "kefu-w-style";
  style.textContent = CSS;
  document.head.appendChild(style);
}

function str(value: unknown): string {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
}

/** The bubble's content for any message type the customer can see. */
function renderContent(message: Pick<Message, "type" | "content">, t: Messages): HTMLElement {
  const c = message.content;
  const bubble = el("div", "kefu-w-bubble");
  switch (message.type) {
    case "text":
      bubble.textContent = str(c.text);
      break;
    case "image": {
      bubble.classList.add("kefu-w-pic");
      const url = str(c.url);
      if (url) {
        const img = el("img", "");
        img.src = url;
        img.alt = t.imageAlt;
        img.loading = "lazy";
        bubble.appendChild(img);
      } else {
        bubble.textContent = t.imageAlt;
      }
      break;
    }
    case "product_card": {
      bubble.classList.add("kefu-w-card");
      bubble.appendChild(el("b", "", str(c.title)));
      if (c.price) bubble.appendChild(el("span", "", `¥${str(c.price)}`));
      break;
    }
    case "order_card": {
      bubble.classList.add("kefu-w-card");
      bubble.appendChild(el("b", "", str(c.title) || `${t.order} ${str(c.order_id)}`));
      const details = [str(c.status), c.amount ? `${t.amount} ¥${str(c.amount)}` : ""].filter(Boolean).join(" · ");
      if (details) bubble.appendChild(el("span", "", details));
      break;
    }
    case "voice":
      bubble.textContent = t.voice;
      break;
    default:
      bubble.textContent = t.unsupported;
  }
  return bubble;
}

export function mount(target: HTMLElement | string, options: MountOptions): WidgetHandle {
  const host = typeof target === "string" ? document.querySelector<HTMLElement>(target) : target;
  if (!host) throw new Error(`Kefu.mount: no element ${typeof target === "string" ? target : "given"}`);
  installStyle();
  const locale = options.locale ?? detectLocale(undefined);
  const t = messagesFor(locale);

  const client = new KefuClient({
    apiBase: options.apiBase,
    ...(options.wsUrl ? { wsUrl: options.wsUrl } : {}),
    shopId: options.shopId,
    transport: options.transport ?? h5Transport(),
    signIn: options.token,
  });

  // -- the frame ----------------------------------------------------------------------------
  const root = el("section", "kefu-w");
  root.lang = locale;
  root.setAttribute("aria-label", options.title ?? t.title);
  const head = el("header", "kefu-w-head");
  const title = el("div", "kefu-w-title", options.title ?? t.title);
  const state = el("div", "kefu-w-state", t.connecting);
  state.dataset.state = "connecting";
  state.setAttribute("role", "status");
  head.append(title, state);
  const list = el("div", "kefu-w-list");
  list.setAttribute("role", "log");
  list.setAttribute("aria-live", "polite");
  const empty = el("div", "kefu-w-empty", t.empty);
  list.appendChild(empty);
  const typing = el("div", "kefu-w-typing");
  typing.setAttribute("aria-live", "polite");
  const bar = el("form", "kefu-w-bar");
  const fileInput = el("input", "kefu-w-sr");
  fileInput.type = "file";
  fileInput.accept = "image/*";
  fileInput.tabIndex = -1;
  fileInput.setAttribute("aria-hidden", "true");
  const imageButton = el("button", "kefu-w-btn", t.image);
  imageButton.type = "button";
  const input = el("textarea", "kefu-w-input");
  input.rows = 1;
  input.placeholder = t.placeholder;
  input.setAttribute("aria-label", t.placeholder);
  const sendButton = el("button", "kefu-w-btn kefu-w-send", t.send);
  sendButton.type = "submit";
  bar.append(fileInput, imageButton, input, sendButton);
  root.append(head, list, typing, bar);
  host.replaceChildren(root);

  // -- messages -----------------------------------------------------------------------------
  const rows = new Map<string, HTMLElement>();
  let typingTimer: ReturnType<typeof setTimeout> | null = null;

  const scrollDown = (): void => {
    list.scrollTop = list.scrollHeight;
  };

  const showAgent = (name: string | null | undefined): void => {
    if (name) title.textContent = `${options.title ?? t.title} · ${name}`;
  };

  const row = (message: Pick<Message, "type" | "content" | "direction" | "sender_type"> & { agent_name?: string | null | undefined }): HTMLElement => {
    const item = el("div", "kefu-w-msg");
    item.dataset.dir = message.direction;
    if (message.direction === "out") {
      const who = message.sender_type === "bot" ? t.bot : message.agent_name ?? t.agent;
      item.appendChild(el("div", "kefu-w-who", who));
    }
    item.appendChild(renderContent(message, t));
    // The bot's "您是不是想问…" offers numbered choices (docs/bot.md): a tap sends the choice's text.
    const choices = Array.isArray(message.content.choices) ? (message.content.choices as unknown[]) : [];
    if (message.direction === "out" && choices.length) {
      const group = el("div", "kefu-w-choices");
      for (const choice of choices) {
        const text = str((choice as { text?: unknown }).text);
        if (!text) continue;
        const button = el("button", "kefu-w-choice", text);
        button.type = "button";
        button.addEventListener("click", () => {
          sendText(text);
        });
        group.appendChild(button);
      }
      item.appendChild(group);
    }
    return item;
  };

  const add = (key: string, item: HTMLElement): void => {
    empty.remove();
    rows.set(key, item);
    list.appendChild(item);
    scrollDown();
  };

  const setStatus = (item: HTMLElement, status: "sending" | "sent" | "failed", retry?: () => void): void => {
    let badge = item.querySelector<HTMLButtonElement>(".kefu-w-status");
    if (!badge) {
      badge = el("button", "kefu-w-status");
      badge.type = "button";
      item.appendChild(badge);
    }
    badge.dataset.status = status;
    badge.textContent = t[status];
    badge.disabled = status !== "failed";
    badge.onclick = status === "failed" && retry ? retry : null;
  };

  const sendOne = (message: OutgoingMessage, item: HTMLElement, clientMessageId: string, upload?: File): void => {
    setStatus(item, "sending");
    const sending = upload
      ? client.sendImage({ contentType: upload.type || "image/jpeg", size: upload.size, blob: upload }, { clientMessageId })
      : client.send(message, { clientMessageId });
    sending
      .then((sent) => {
        rows.set(sent.message.message_id, item);
        item.dataset.id = sent.message.message_id;
        setStatus(item, "sent");
      })
      .catch(() => {
        setStatus(item, "failed", () => {
          sendOne(message, item, clientMessageId, upload);
        });
      });
  };

  const sendText = (chosen?: string): void => {
    const text = (chosen ?? input.value).trim();
    if (!text) return;
    if (chosen === undefined) input.value = "";
    live.typing(false);
    const message: OutgoingMessage = { type: "text", text };
    const clientMessageId = newClientMessageId();
    const item = row({ type: "text", content: { text }, direction: "in", sender_type: "customer" });
    add(clientMessageId, item);
    sendOne(message, item, clientMessageId);
  };

  const sendPicture = (file: File): void => {
    if (file.size > MAX_IMAGE_BYTES) {
      typing.textContent = t.tooBig;
      return;
    }
    const preview = URL.createObjectURL(file);
    const clientMessageId = newClientMessageId();
    const item = row({ type: "image", content: { url: preview }, direction: "in", sender_type: "customer" });
    add(clientMessageId, item);
    // The media_key comes from the upload; the stand-in message is only for the failure path.
    sendOne({ type: "text", text: "" }, item, clientMessageId, file);
  };

  const live = client.live({
    onMessage: (message) => {
      if (message.direction === "internal" || rows.has(message.message_id)) return;
      showAgent(message.agent_name);
      add(message.message_id, row(message));
      if (message.direction === "out") typing.textContent = "";
    },
    onUpdate: (message) => {
      showAgent(message.agent_name);
      const item = rows.get(message.message_id);
      const who = item?.querySelector(".kefu-w-who");
      if (who && message.agent_name) who.textContent = message.agent_name;
    },
    onTyping: (isTyping) => {
      typing.textContent = isTyping ? t.typing : "";
      if (typingTimer !== null) clearTimeout(typingTimer);
      typingTimer = isTyping
        ? setTimeout(() => {
            typing.textContent = "";
          }, TYPING_SHOWN_MS)
        : null;
    },
    onState: (next: LiveState) => {
      state.dataset.state = next;
      state.textContent = t[next];
    },
    onError: (error) => {
      if (error instanceof Error && /sign|401|403/.test(error.message) && rows.size === 0) {
        state.textContent = t.signInFailed;
      }
    },
  });

  // -- input --------------------------------------------------------------------------------
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  bar.addEventListener("submit", (event) => {
    event.preventDefault();
    sendText();
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that ends an IME composition (拼音) does not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendText();
    }
  });
  input.addEventListener("input", () => {
    if (input.value.trim()) live.typing(true);
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      live.typing(false);
    }, IDLE_TYPING_MS);
  });
  imageButton.addEventListener("click", () => {
    fileInput.click();
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (file) sendPicture(file);
  });

  return {
    client,
    live,
    unmount: () => {
      live.close();
      if (typingTimer !== null) clearTimeout(typingTimer);
      if (idleTimer !== null) clearTimeout(idleTimer);
      root.remove();
    },
  };
}
