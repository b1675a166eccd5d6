// The app's API instance: built once config.json is loaded (main.ts), wired to the auth store.
import { ApiClient } from './client'
import { kefuApi, type KefuApi } from './kefu'
import { botApi, type BotApi } from './bot'

let instance: KefuApi | null = null
let botInstance: BotApi | null = null
let client: ApiClient | null = null

export function createApi(baseUrl: string, hooks: { token: () => string | null; refresh: () => Promise<string | null>; onSignedOut: () => void }): KefuApi {
  client = new ApiClient({ baseUrl, ...hooks })
  instance = kefuApi(client)
  botInstance = botApi(client)
  return instance
}

export function api(): KefuApi {
  if (!instance) throw new Error('API not created yet')
  return instance
}

/** The knowledge base and bot endpoints (api/bot.ts). */
export function botApiInstance(): BotApi {
  if (!botInstance) throw new Error('API not created yet')
  return botInstance
}

/** The raw client, for areas that keep their endpoints in their own module (api/customers.ts). */
export function apiClient(): ApiClient {
  if (!client) throw new Error('API not created yet')
  return client
}

/** The raw client (the tickets and settings screens' name for it). */
export function httpClient(): ApiClient {
  return apiClient()
}

export { ApiError } from './client'
