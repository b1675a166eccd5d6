/** kefu's error shape, {"error": {"code", "message", "request_id"}}, as an exception. */
export class KefuApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  /** Seconds, from `Retry-After` (429). */
  readonly retryAfter: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    requestId: string | null = null,
    retryAfter: number | null = null,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = "KefuApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }

  /** Worth sending again with the same client_message_id (the server stores it once). */
  get retriable(): boolean {
    return this.status === 429 || this.status >= 500 || this.status === 0;
  }
}

/** The network failed before an answer came (offline, DNS, TLS, a dropped connection). */
export class NetworkError extends KefuApiError {
  constructor(message: string) {
    super(0, "network_error", message);
    this.name = "NetworkError";
  }
}

export function errorFromResponse(
  status: number,
  body: string,
  headers: Record<string, string>,
): KefuApiError {
  let code = `http_${status}`;
  let message = body.slice(0, 200);
  let requestId: string | null = null;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string; request_id?: string } };
    if (parsed.error) {
      code = parsed.error.code ?? code;
      message = parsed.error.message ?? message;
      requestId = parsed.error.request_id ?? null;
    }
  } catch {
    // Not kefu's JSON (a gateway page): keep the status-derived code.
  }
  const retry = Number(headers["retry-after"]);
  return new KefuApiError(status, code, message, requestId, Number.isFinite(retry) && retry > 0 ? retry : null);
}
