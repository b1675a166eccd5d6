/** Browsers and app webviews: fetch, WebSocket, FormData. */
import { NetworkError } from "../errors.js";
import type { HttpRequest, HttpResponse, Socket, SocketHandlers, Transport, UploadFile } from "../transport.js";

export function h5Transport(): Transport {
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      let response: Response;
      try {
        const init: RequestInit = { method: req.method, headers: req.headers };
        if (req.body !== undefined) init.body = req.body;
        response = await fetch(req.url, init);
      } catch (error) {
        throw new NetworkError(String(error));
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        headers[key.toLowerCase()] = value;
      });
      return { status: response.status, headers, body: await response.text() };
    },

    connect(url: string, handlers: SocketHandlers): Socket {
      const ws = new WebSocket(url);
      let closed = false;
      const closeOnce = (code: number, reason: string): void => {
        if (closed) return;
        closed = true;
        handlers.onClose(code, reason);
      };
      ws.onopen = () => {
        handlers.onOpen();
      };
      ws.onmessage = (event: MessageEvent) => {
        if (typeof event.data === "string") handlers.onMessage(event.data);
      };
      ws.onclose = (event: CloseEvent) => {
        closeOnce(event.code, event.reason);
      };
      ws.onerror = () => {
        closeOnce(1006, "error");
      };
      return {
        send: (data: string) => {
          ws.send(data);
        },
        close: () => {
          ws.close();
        },
      };
    },

    async upload(url: string, fields: Record<string, string>, file: UploadFile): Promise<void> {
      if (!file.blob) throw new Error("an H5 upload needs the file as a Blob");
      const form = new FormData();
      for (const [key, value] of Object.entries(fields)) form.append(key, value);
      form.append("file", file.blob);
      let response: Response;
      try {
        response = await fetch(url, { method: "POST", body: form });
      } catch (error) {
        throw new NetworkError(String(error));
      }
      if (!response.ok) throw new NetworkError(`upload failed: HTTP ${response.status}`);
    },
  };
}
