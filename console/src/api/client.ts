// The HTTP client every screen uses: base URL from config.json, the staff access token as the
// bearer, one refresh through the HttpOnly `kefu_refresh` cookie on a 401, and errors as
// ApiError with the API's `error.code` (docs/openapi.yaml `Error`) for screens to act on.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    /** The error's other fields (e.g. an import's row `errors` and `error_count`). */
    readonly details: Record<string, unknown> | null = null,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>

export interface ClientOptions {
  baseUrl: string
  fetch?: typeof fetch
  /** The current access token, or null when signed out. */
  token: () => string | null
  /** Gets a new access token (cookie refresh); null when the session is over. */
  refresh: () => Promise<string | null>
  /** Called when a request found the session over (refresh refused). */
  onSignedOut?: () => void
}

export function buildUrl(baseUrl: string, path: string, query?: Query): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  }
  const search = params.toString()
  return `${baseUrl}${path}${search ? `?${search}` : ''}`
}

async function toError(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`
  let message = response.statusText || code
  let requestId: string | null = null
  let details: Record<string, unknown> | null = null
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; request_id?: string | null }; message?: string }
    if (body.error) {
      code = body.error.code ?? code
      message = body.error.message ?? message
      requestId = body.error.request_id ?? null
      details = body.error as Record<string, unknown>
    } else if (body.message) {
      message = body.message // API Gateway's own answers ({"message": ...})
    }
  } catch {
    // not JSON: keep the status
  }
  return new ApiError(response.status, code, message, requestId, details)
}

export class ApiClient {
  private refreshing: Promise<string | null> | null = null

  constructor(private readonly options: ClientOptions) {}

  async request<T>(method: string, path: string, init: { query?: Query; body?: unknown; auth?: boolean } = {}): Promise<T> {
    const auth = init.auth ?? true
    const send = (token: string | null): Promise<Response> => {
      const headers: Record<string, string> = { Accept: 'application/json' }
      if (init.body !== undefined) headers['Content-Type'] = 'application/json'
      if (auth && token) headers.Authorization = `Bearer ${token}`
      const fetchImpl = this.options.fetch ?? fetch
      return fetchImpl(buildUrl(this.options.baseUrl, path, init.query), {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        credentials: 'include', // the refresh cookie rides on the refresh endpoint only
      })
    }
    let response = await send(auth ? this.options.token() : null)
    if (response.status === 401 && auth) {
      const token = await this.refreshOnce()
      if (token === null) {
        this.options.onSignedOut?.()
        throw await toError(response)
      }
      response = await send(token)
    }
    if (!response.ok) throw await toError(response)
    if (response.status === 204) return undefined as T
    const text = await response.text()
    return (text ? JSON.parse(text) : undefined) as T
  }

  /** Concurrent 401s share one refresh. */
  private refreshOnce(): Promise<string | null> {
    if (!this.refreshing) {
      this.refreshing = this.options.refresh().finally(() => {
        this.refreshing = null
      })
    }
    return this.refreshing
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query })
  }

  post<T>(path: string, body: unknown = {}, query?: Query): Promise<T> {
    return this.request<T>('POST', path, { body, query })
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body })
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body })
  }
}
