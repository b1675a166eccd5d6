// The deployment's settings, read at start-up from /config.json (written by `make dev`'s runner
// locally and by `make deploy-console` in AWS), so one build serves every stage.

export interface ConsoleConfig {
  /** The REST API's base URL ('' = same origin, as `make dev` serves it). */
  apiBaseUrl: string
  /** The staff WebSocket URL (docs/realtime.md). */
  webSocketUrl: string
  /** The staff user pool, shown for operators; sign-in goes through kefu's own endpoint. */
  userPoolId?: string
  userPoolClientId?: string
  region?: string
  stage?: string
  /** The shop pre-filled on the sign-in form (single-shop deployments). */
  defaultShopId?: string
}

let current: ConsoleConfig | null = null

export function parseConfig(raw: unknown): ConsoleConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error('config.json: not an object')
  const value = raw as Record<string, unknown>
  const text = (key: string, required: boolean): string | undefined => {
    const v = value[key]
    if (v === undefined || v === null) {
      if (required) throw new Error(`config.json: ${key} is missing`)
      return undefined
    }
    if (typeof v !== 'string') throw new Error(`config.json: ${key} must be a string`)
    return v
  }
  return {
    apiBaseUrl: (text('apiBaseUrl', true) ?? '').replace(/\/+$/, ''),
    webSocketUrl: text('webSocketUrl', true) ?? '',
    userPoolId: text('userPoolId', false),
    userPoolClientId: text('userPoolClientId', false),
    region: text('region', false),
    stage: text('stage', false),
    defaultShopId: text('defaultShopId', false),
  }
}

export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<ConsoleConfig> {
  const response = await fetchImpl('/config.json', { cache: 'no-store' })
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`)
  current = parseConfig(await response.json())
  return current
}

export function config(): ConsoleConfig {
  if (!current) throw new Error('config not loaded')
  return current
}

export function setConfig(value: ConsoleConfig): void {
  current = value
}
