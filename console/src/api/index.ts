// The app's API instance: built once config.json is loaded (main.ts), wired to the auth store.
import { ApiClient } from './client'
import { kefuApi, type KefuApi } from './kefu'

let instance: KefuApi | null = null
let http: ApiClient | null = null

export function createApi(baseUrl: string, hooks: { token: () => string | null; refresh: () => Promise<string | null>; onSignedOut: () => void }): KefuApi {
  http = new ApiClient({ baseUrl, ...hooks })
  instance = kefuApi(http)
  return instance
}

export function api(): KefuApi {
  if (!instance) throw new Error('API not created yet')
  return instance
}

/** The raw client, for areas that keep their endpoint functions in their own module. */
export function httpClient(): ApiClient {
  if (!http) throw new Error('API not created yet')
  return http
}

export { ApiError } from './client'
