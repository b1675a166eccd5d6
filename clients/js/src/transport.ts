/**
 * What the SDK needs from its platform: HTTP requests, a WebSocket, a file upload. The
 * mini-program has wx.request / wx.connectSocket / wx.uploadFile (transports/wx.ts); a browser
 * or app webview has fetch / WebSocket / FormData (transports/h5.ts).
 */

export interface HttpRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export interface Socket {
  send(data: string): void;
  close(): void;
}

export interface SocketHandlers {
  onOpen(): void;
  onMessage(data: string): void;
  /** Called once, whether the socket closed cleanly, failed to open or broke. */
  onClose(code: number, reason: string): void;
}

/**
 * A file to upload: in a browser a Blob/File; in the mini-program the temp path from
 * wx.chooseMedia with its size and type.
 */
export interface UploadFile {
  contentType: string;
  size: number;
  blob?: Blob;
  path?: string;
}

export interface Transport {
  request(req: HttpRequest): Promise<HttpResponse>;
  connect(url: string, handlers: SocketHandlers): Socket;
  /** Multipart POST of `fields` then the file (field `file`) to a presigned S3 URL. */
  upload(url: string, fields: Record<string, string>, file: UploadFile): Promise<void>;
}

/** Header names in lower case, as HTTP/2 and wx.request do not agree on case. */
export function lowerCaseHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    out[key.toLowerCase()] = String(value);
  }
  return out;
}
