/** The widget's words, zh-CN first (the shops' customers), English complete. */
export type Locale = "zh-CN" | "en";

const zh = {
  title: "在线客服",
  placeholder: "请输入消息…",
  send: "发送",
  image: "图片",
  sending: "发送中",
  sent: "已发送",
  failed: "发送失败，点此重试",
  typing: "对方正在输入…",
  agent: "客服",
  bot: "智能助手",
  connecting: "连接中…",
  live: "在线",
  polling: "网络不稳定，正在重连…",
  closed: "已断开",
  signInFailed: "登录失败，请稍后重试",
  empty: "您好，有什么可以帮您？",
  order: "订单",
  amount: "金额",
  imageAlt: "图片消息",
  voice: "[语音]",
  unsupported: "[暂不支持的消息]",
  loadFailed: "消息加载失败",
  tooBig: "图片不能超过 10 MB",
};

export type Messages = typeof zh;

const en: Messages = {
  title: "Customer service",
  placeholder: "Type a message…",
  send: "Send",
  image: "Picture",
  sending: "Sending",
  sent: "Sent",
  failed: "Not sent. Tap to retry",
  typing: "Typing…",
  agent: "Agent",
  bot: "Assistant",
  connecting: "Connecting…",
  live: "Online",
  polling: "Connection unstable, reconnecting…",
  closed: "Disconnected",
  signInFailed: "Could not sign in. Please try again later",
  empty: "Hello! How can we help?",
  order: "Order",
  amount: "Amount",
  imageAlt: "Picture message",
  voice: "[Voice]",
  unsupported: "[Message not supported here]",
  loadFailed: "Could not load messages",
  tooBig: "Pictures must be under 10 MB",
};

export function messagesFor(locale: Locale): Messages {
  return locale === "en" ? en : zh;
}

export function detectLocale(preferred: string | undefined): Locale {
  const language = preferred ?? (typeof navigator !== "undefined" ? navigator.language : "zh-CN");
  return language.toLowerCase().startsWith("en") ? "en" : "zh-CN";
}
