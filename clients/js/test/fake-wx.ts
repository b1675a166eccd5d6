/** A fake `wx` (the mini-program's API object) over FakeKefu: what wx.request & co. would do. */
import type { WxLike, WxSocketTask } from "../src/transports/wx.js";
import type { FakeKefu } from "./fake-server.js";

export interface FakeWx extends WxLike {
  calls: { api: string; options: unknown }[];
  subscribeResult: Record<string, string>;
}

export function fakeWx(server: FakeKefu): FakeWx {
  let codes = 0;
  const calls: FakeWx["calls"] = [];
  const wx: FakeWx = {
    calls,
    subscribeResult: {},
    request(options) {
      calls.push({ api: "request", options });
      // wx.request is asynchronous: its callbacks never run inside the call.
      setTimeout(() => {
        const answer = server.handle({
          method: options.method,
          url: options.url,
          headers: options.header,
          ...(options.data !== undefined ? { body: options.data } : {}),
        });
        // WeChat's header names come as the server wrote them; the SDK lower-cases them.
        options.success({ statusCode: answer.status, data: answer.body, header: { "Content-Type": "application/json", ...answer.headers } });
      }, 0);
    },
    connectSocket(options) {
      calls.push({ api: "connectSocket", options });
      let onOpen = (): void => undefined;
      let onMessage = (_r: { data: string }): void => undefined;
      let onClose = (_r: { code: number; reason: string }): void => undefined;
      const socket = server.transport.connect(options.url, {
        onOpen: () => {
          onOpen();
        },
        onMessage: (data) => {
          onMessage({ data });
        },
        onClose: (code, reason) => {
          onClose({ code, reason });
        },
      });
      const task: WxSocketTask = {
        send: ({ data }) => {
          socket.send(data);
        },
        close: () => {
          socket.close();
        },
        onOpen: (cb) => {
          onOpen = cb;
        },
        onMessage: (cb) => {
          onMessage = cb;
        },
        onClose: (cb) => {
          onClose = cb;
        },
        onError: () => undefined,
      };
      return task;
    },
    uploadFile(options) {
      calls.push({ api: "uploadFile", options });
      void server.transport
        .upload(options.url, options.formData, { contentType: "image/jpeg", size: 0, path: options.filePath })
        .then(() => {
          options.success({ statusCode: 204, data: "" });
        });
    },
    login(options) {
      calls.push({ api: "login", options });
      codes += 1;
      setTimeout(() => {
        options.success({ code: `code-${codes}` });
      }, 0);
    },
    requestSubscribeMessage(options) {
      calls.push({ api: "requestSubscribeMessage", options });
      setTimeout(() => {
        options.success({ errMsg: "requestSubscribeMessage:ok", ...wx.subscribeResult });
      }, 0);
    },
  };
  return wx;
}
