// The app's API instance: built once config.json is loaded (main.ts), wired to the auth store.
import { ApiClient } from './client'
import { kefuApi, type KefuApi } from './kefu'

let instance: KefuApi | null = null

export function createApi(baseUrl: string, hooks: { token: () => string | null; refresh: () => Promise<string | null>; onSignedOut: () => void }): KefuApi {
  instance = kefuApi(new ApiClient({ baseUrl, ...hooks }))
  return instance
}

export function api(): KefuApi {
  if (!instance) throw new Error('API not created yet')
  return instance
}

export { ApiError } from './client'
