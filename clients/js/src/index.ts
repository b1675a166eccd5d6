/** kefu's customer-side SDK: see docs/integration.md. */
export { KefuClient, newClientMessageId, wechatSignIn } from "./client.js";
export type { KefuClientOptions, SendOptions, SignIn } from "./client.js";
export { LiveConnection } from "./live.js";
export type { LiveHandlers, LiveOptions, LiveState } from "./live.js";
export { KefuApiError, NetworkError } from "./errors.js";
export type { HttpRequest, HttpResponse, Socket, SocketHandlers, Transport, UploadFile } from "./transport.js";
export { h5Transport } from "./transports/h5.js";
export { wxLoginCode, wxTransport } from "./transports/wx.js";
export type { WxLike, WxSocketTask } from "./transports/wx.js";
export type * from "./types.js";
