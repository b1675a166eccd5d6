/**
 * The WeChat mini-program: wx.request, wx.connectSocket, wx.uploadFile, wx.login. Only the
 * parts of `wx` used here are typed (WxLike), so tests pass a fake object.
 */
import { NetworkError } from "../errors.js";
import { lowerCaseHeaders } from "../transport.js";
import type { HttpRequest, HttpResponse, Socket, SocketHandlers, Transport, UploadFile } from "../transport.js";

interface WxFail {
  errMsg: string;
}

export interface WxSocketTask {
  send(options: { data: string; fail?: (err: WxFail) => void }): void;
  close(options: { code?: number; reason?: string }): void;
  onOpen(callback: () => void): void;
  onMessage(callback: (result: { data: string | ArrayBuffer }) => void): void;
  onClose(callback: (result: { code: number; reason: string }) => void): void;
  onError(callback: (err: WxFail) => void): void;
}

export interface WxLike {
  request(options: {
    url: string;
    method: "GET" | "POST";
    header: Record<string, string>;
    data?: string;
    dataType: string;
    responseType: "text";
    success: (result: { statusCode: number; data: unknown; header: Record<string, unknown> }) => void;
    fail: (err: WxFail) => void;
  }): void;
  connectSocket(options: { url: string; fail?: (err: WxFail) => void }): WxSocketTask;
  uploadFile(options: {
    url: string;
    filePath: string;
    name: string;
    formData: Record<string, string>;
    success: (result: { statusCode: number; data: string }) => void;
    fail: (err: WxFail) => void;
  }): void;
  login(options: { success: (result: { code: string }) => void; fail: (err: WxFail) => void }): void;
  requestSubscribeMessage?(options: {
    tmplIds: string[];
    success: (result: Record<string, string>) => void;
    fail: (err: WxFail & { errCode?: number }) => void;
  }): void;
}

export function wxTransport(wx: WxLike): Transport {
  return {
    request(req: HttpRequest): Promise<HttpResponse> {
      return new Promise((resolve, reject) => {
        const options: Parameters<WxLike["request"]>[0] = {
          url: req.url,
          method: req.method,
          header: req.headers,
          // Anything but "json": wx.request then hands back the raw text, parsed by the SDK.
          dataType: "text",
          responseType: "text",
          success: (result) => {
            const body = typeof result.data === "string" ? result.data : JSON.stringify(result.data);
            resolve({ status: result.statusCode, headers: lowerCaseHeaders(result.header), body });
          },
          fail: (err) => {
            reject(new NetworkError(err.errMsg));
          },
        };
        if (req.body !== undefined) options.data = req.body;
        wx.request(options);
      });
    },

    connect(url: string, handlers: SocketHandlers): Socket {
      let closed = false;
      const closeOnce = (code: number, reason: string): void => {
        if (closed) return;
        closed = true;
        handlers.onClose(code, reason);
      };
      const task = wx.connectSocket({
        url,
        fail: (err) => {
          closeOnce(1006, err.errMsg);
        },
      });
      task.onOpen(() => {
        handlers.onOpen();
      });
      task.onMessage((result) => {
        if (typeof result.data === "string") handlers.onMessage(result.data);
      });
      task.onClose((result) => {
        closeOnce(result.code, result.reason);
      });
      task.onError((err) => {
        closeOnce(1006, err.errMsg);
      });
      return {
        send: (data: string) => {
          task.send({ data });
        },
        close: () => {
          task.close({ code: 1000, reason: "closed by the client" });
        },
      };
    },

    upload(url: string, fields: Record<string, string>, file: UploadFile): Promise<void> {
      const path = file.path;
      if (!path) return Promise.reject(new Error("a mini-program upload needs the file's temp path"));
      return new Promise((resolve, reject) => {
        wx.uploadFile({
          url,
          filePath: path,
          name: "file",
          formData: fields,
          success: (result) => {
            if (result.statusCode >= 200 && result.statusCode < 300) resolve();
            else reject(new NetworkError(`upload failed: HTTP ${result.statusCode}`));
          },
          fail: (err) => {
            reject(new NetworkError(err.errMsg));
          },
        });
      });
    },
  };
}

/** wx.login() as a promise: the code for POST /v1/auth/wechat (single-use, 5 minutes). */
export function wxLoginCode(wx: WxLike): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (result) => {
        resolve(result.code);
      },
      fail: (err) => {
        reject(new NetworkError(`wx.login failed: ${err.errMsg}`));
      },
    });
  });
}
