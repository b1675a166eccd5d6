import { describe, expect, it, vi } from 'vitest'
import { ApiClient, ApiError, buildUrl } from '@/api/client'
import { kefuApi, isChallenge } from '@/api/kefu'

type Call = { url: string; init: RequestInit }

function fakeFetch(answers: Response[]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = []
  const fetchImpl = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} })
    const next = answers.shift()
    if (!next) throw new Error('unexpected request')
    return next
  })
  return { fetch: fetchImpl as unknown as typeof fetch, calls }
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

describe('the API client', () => {
  it('builds URLs, leaving out empty query values', () => {
    expect(buildUrl('https://api.example', '/v1/x', { a: 1, b: '', c: null, d: undefined, e: 'é' })).toBe('https://api.example/v1/x?a=1&e=%C3%A9')
    expect(buildUrl('', '/v1/x')).toBe('/v1/x')
  })

  it('sends the access token as the bearer and JSON bodies', async () => {
    const { fetch, calls } = fakeFetch([json(200, { ok: true })])
    const client = new ApiClient({ baseUrl: 'https://api', fetch, token: () => 'T1', refresh: async () => null })
    await expect(client.post('/v1/thing', { a: 1 })).resolves.toEqual({ ok: true })
    const headers = calls[0]!.init.headers as Record<string, string>
    expect(headers.Authorization).toBe('Bearer T1')
    expect(headers['Content-Type']).toBe('application/json')
    expect(calls[0]!.init.body).toBe('{"a":1}')
    expect(calls[0]!.init.credentials).toBe('include')
  })

  it('refreshes once on a 401 and retries with the new token; concurrent 401s share the refresh', async () => {
    const { fetch, calls } = fakeFetch([json(401, {}), json(401, {}), json(200, { n: 1 }), json(200, { n: 2 })])
    const refresh = vi.fn(async () => 'T2')
    const client = new ApiClient({ baseUrl: '', fetch, token: () => 'T1', refresh })
    const [a, b] = await Promise.all([client.get('/v1/a'), client.get('/v1/b')])
    expect([a, b]).toEqual([{ n: 1 }, { n: 2 }])
    expect(refresh).toHaveBeenCalledTimes(1)
    expect((calls[2]!.init.headers as Record<string, string>).Authorization).toBe('Bearer T2')
  })

  it('signs out when the refresh is refused, and reports the 401', async () => {
    const { fetch } = fakeFetch([json(401, { error: { code: 'invalid_token', message: 'expired', request_id: 'r1' } })])
    const onSignedOut = vi.fn()
    const client = new ApiClient({ baseUrl: '', fetch, token: () => 'T1', refresh: async () => null, onSignedOut })
    const error = await client.get('/v1/a').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 401, code: 'invalid_token', requestId: 'r1' })
    expect(onSignedOut).toHaveBeenCalledOnce()
  })

  it("turns the API's error body into an ApiError with its code, and API Gateway's into http_<status>", async () => {
    const { fetch } = fakeFetch([
      json(409, { error: { code: 'variable_unavailable', message: 'no order yet', request_id: null } }),
      json(403, { message: 'Missing Authentication Token' }),
    ])
    const client = new ApiClient({ baseUrl: '', fetch, token: () => 'T', refresh: async () => null })
    await expect(client.post('/v1/a')).rejects.toMatchObject({ status: 409, code: 'variable_unavailable', message: 'no order yet' })
    await expect(client.get('/v1/b')).rejects.toMatchObject({ status: 403, code: 'http_403', message: 'Missing Authentication Token' })
  })

  it('signs in without a bearer, asking for the refresh cookie, and tells a challenge from a session', async () => {
    const challenge = { challenge: 'mfa_required', session: 's'.repeat(20), respond_at: '/v1/staff/login/mfa', shop_id: 'demo', username: 'agent1' }
    const { fetch, calls } = fakeFetch([json(200, challenge)])
    const api = kefuApi(new ApiClient({ baseUrl: '', fetch, token: () => 'stale', refresh: async () => null }))
    const answer = await api.login('demo', 'agent1', 'pw')
    expect(isChallenge(answer)).toBe(true)
    expect((calls[0]!.init.headers as Record<string, string>).Authorization).toBeUndefined()
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ shop_id: 'demo', username: 'agent1', password: 'pw', refresh_cookie: true })
  })

  it('escapes path parameters', async () => {
    const { fetch, calls } = fakeFetch([json(200, {})])
    const api = kefuApi(new ApiClient({ baseUrl: '', fetch, token: () => 'T', refresh: async () => null }))
    await api.claim('cv/../x')
    expect(calls[0]!.url).toBe('/v1/conversations/cv%2F..%2Fx/claim')
  })
})
