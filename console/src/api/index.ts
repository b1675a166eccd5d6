// The app's API instance: built once config.json is loaded (main.ts), wired to the auth store.
import { ApiClient } from './client'
import { kefuApi, type KefuApi } from './kefu'

let instance: KefuApi | null = null
let client: ApiClient | null = null

export function createApi(baseUrl: string, hooks: { token: () => string | null; refresh: () => Promise<string | null>; onSignedOut: () => void }): KefuApi {
  client = new ApiClient({ baseUrl, ...hooks })
  instance = kefuApi(client)
  return instance
}

export function api(): KefuApi {
  if (!instance) throw new Error('API not created yet')
  return instance
}

/** The raw client, for areas that keep their endpoints in their own module (api/customers.ts). */
export function apiClient(): ApiClient {
  if (!client) throw new Error('API not created yet')
  return client
}

export { ApiError } from './client'
