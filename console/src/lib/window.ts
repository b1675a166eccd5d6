// WeChat's customer-service rule: a shop may send customer-service messages to a user only within
// 48 hours of that user's last message to it. After that only a subscription message (with a
// grant) reaches them; kefu then marks a reply `undeliverable` (docs/architecture.md).

export const SERVICE_WINDOW_MS = 48 * 60 * 60 * 1000
/** Below this much time left the console warns the agent. */
export const WINDOW_WARNING_MS = 2 * 60 * 60 * 1000

export type WindowState =
  | { state: 'open'; closesAt: number; remainingMs: number; closingSoon: boolean }
  | { state: 'closed'; closedAt: number }
  | { state: 'unknown' }
  | { state: 'not_applicable' }

/** The channels the 48-hour rule applies to (app and H5 chats reach the customer any time). */
export function windowApplies(channel: string): boolean {
  return channel === 'wechat_miniprogram'
}

export function serviceWindow(
  channel: string,
  lastCustomerMessageAt: number | null | undefined,
  now: number = Date.now(),
): WindowState {
  if (!windowApplies(channel)) return { state: 'not_applicable' }
  if (lastCustomerMessageAt == null) return { state: 'unknown' }
  const closesAt = lastCustomerMessageAt + SERVICE_WINDOW_MS
  if (now >= closesAt) return { state: 'closed', closedAt: closesAt }
  const remainingMs = closesAt - now
  return { state: 'open', closesAt, remainingMs, closingSoon: remainingMs <= WINDOW_WARNING_MS }
}
