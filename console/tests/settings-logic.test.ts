import { describe, expect, it } from 'vitest'
import { calendarBody, calendarForm, parseSpans } from '@/lib/calendar'
import { auditQuery, startOfDay } from '@/lib/audit'

describe('SLA calendar form', () => {
  const stored = {
    timezone: 'Asia/Shanghai',
    weekly: { mon: ['09:00-12:00', '13:30-18:00'], tue: ['09:00-18:00'] },
    holidays: ['2026-10-01', '2026-10-02'],
    workdays: ['2026-09-27'],
    workday_hours: null,
  }

  it('round-trips what the API stores, split shifts and 调休 included', () => {
    const form = calendarForm(stored)
    expect(form.weekly.mon).toBe('09:00-12:00, 13:30-18:00')
    expect(form.weekly.sun).toBe('')
    const result = calendarBody(form)
    expect(result).toEqual({ ok: true, body: { ...stored, weekly: { mon: ['09:00-12:00', '13:30-18:00'], tue: ['09:00-18:00'], wed: [], thu: [], fri: [], sat: [], sun: [] } } })
  })

  it('accepts full-width commas and dashes as people type them in Chinese', () => {
    expect(parseSpans('09:00–12:00，13:30~18:00')).toEqual(['09:00-12:00', '13:30-18:00'])
  })

  it('sorts and de-duplicates dates, and names the first bad entry instead of sending it', () => {
    const form = calendarForm(stored)
    form.holidays = '2026-10-02\n2026-10-01 2026-10-01'
    const ok = calendarBody(form)
    expect(ok.ok && ok.body.holidays).toEqual(['2026-10-01', '2026-10-02'])
    form.weekly.wed = '9-18'
    expect(calendarBody(form)).toEqual({ ok: false, invalid: '9-18' })
    form.weekly.wed = ''
    form.workdays = '10/11'
    expect(calendarBody(form)).toEqual({ ok: false, invalid: '10/11' })
  })
})

describe('audit filters', () => {
  it('send the shop’s days as epoch bounds (Shanghai midnight is 16:00 UTC the day before)', () => {
    expect(startOfDay('2026-12-02', 'Asia/Shanghai')).toBe(Date.UTC(2026, 11, 1, 16))
    const query = auditQuery({ actor: 'laoban', action: ' staff.login_failed ', target_type: '', target_id: 'ignored', from: '2026-12-01', to: '2026-12-02' }, 'Asia/Shanghai')
    expect(query).toEqual({
      actor: 'staff:laoban', action: 'staff.login_failed',
      from: String(Date.UTC(2026, 10, 30, 16)), to: String(Date.UTC(2026, 11, 2, 16) - 1),
    })
  })

  it('keep a typed actor kind and send the target id with its type', () => {
    expect(auditQuery({ actor: 'system:sla', action: '', target_type: 'ticket', target_id: 'tk_1', from: '', to: '' }, 'Asia/Shanghai'))
      .toEqual({ actor: 'system:sla', target_type: 'ticket', target_id: 'tk_1' })
  })

  it('handle a zone with daylight saving', () => {
    expect(startOfDay('2026-07-01', 'Europe/Berlin')).toBe(Date.UTC(2026, 5, 30, 22))
    expect(startOfDay('2026-12-01', 'Europe/Berlin')).toBe(Date.UTC(2026, 10, 30, 23))
  })
})

describe('WeChat settings', () => {
  it('give the full push URL for the mini-program console, same-origin API included', async () => {
    const { pushUrl } = await import('@/lib/wechat')
    expect(pushUrl('', '/v1/wechat/demo/push', 'http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000/v1/wechat/demo/push')
    expect(pushUrl('https://api.example.cn/prod/', '/v1/wechat/demo/push', 'https://console.example.cn')).toBe('https://api.example.cn/prod/v1/wechat/demo/push')
  })

  it('generate Token and EncodingAESKey in WeChat’s formats, evenly over letters and digits', async () => {
    const { randomAlphanumeric } = await import('@/lib/wechat')
    expect(randomAlphanumeric(43)).toMatch(/^[0-9A-Za-z]{43}$/)
    // bytes ≥ 248 are skipped so no character is favoured
    let calls = 0
    const fixed = (b: Uint8Array): Uint8Array => b.fill(calls++ === 0 ? 255 : 0)
    expect(randomAlphanumeric(3, fixed)).toBe('AAA')
  })

  it('send only the secrets typed, and no key in plain mode', async () => {
    const { weChatBody } = await import('@/lib/wechat')
    expect(weChatBody({ appid: ' wx1234567890abcdef ', push_mode: 'secure', app_secret: '', token: 'tok123', encoding_aes_key: '' }))
      .toEqual({ appid: 'wx1234567890abcdef', push_mode: 'secure', token: 'tok123' })
    expect(weChatBody({ appid: 'wx1', push_mode: 'plain', app_secret: '', token: '', encoding_aes_key: 'x'.repeat(43) }))
      .toEqual({ appid: 'wx1', push_mode: 'plain', encoding_aes_key: '' })
  })
})
