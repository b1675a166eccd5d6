import { describe, expect, it } from 'vitest'
import { SERVICE_WINDOW_MS, serviceWindow } from '@/lib/window'

const HOUR = 3_600_000
const last = Date.UTC(2024, 4, 1, 8, 0)

describe('the 48-hour service window', () => {
  it('is open for 48 hours after the customer last wrote, with the time left', () => {
    const w = serviceWindow('wechat_miniprogram', last, last + 10 * HOUR)
    expect(w).toEqual({ state: 'open', closesAt: last + SERVICE_WINDOW_MS, remainingMs: 38 * HOUR, closingSoon: false })
  })

  it('warns in its last two hours', () => {
    const w = serviceWindow('wechat_miniprogram', last, last + 46 * HOUR + 1)
    expect(w.state === 'open' && w.closingSoon).toBe(true)
  })

  it('is closed at exactly 48 hours and after', () => {
    expect(serviceWindow('wechat_miniprogram', last, last + SERVICE_WINDOW_MS)).toEqual({ state: 'closed', closedAt: last + SERVICE_WINDOW_MS })
    expect(serviceWindow('wechat_miniprogram', last, last + 100 * HOUR).state).toBe('closed')
  })

  it('is unknown before the customer has written', () => {
    expect(serviceWindow('wechat_miniprogram', null, last).state).toBe('unknown')
  })

  it('does not apply to app and H5 chats', () => {
    expect(serviceWindow('h5', last, last + 100 * HOUR).state).toBe('not_applicable')
    expect(serviceWindow('app', null).state).toBe('not_applicable')
  })
})
