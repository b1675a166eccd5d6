import { describe, expect, it } from 'vitest'
import { dayIn, formatDateTime, formatDuration, formatListTime } from '@/lib/time'

// 2024-05-01 17:30 UTC = 2024-05-02 01:30 in Shanghai (UTC+8), still May 1st in New York.
const ms = Date.UTC(2024, 4, 1, 17, 30)

describe('times in the shop time zone', () => {
  it('formats in the shop zone, not the browser one', () => {
    expect(formatDateTime(ms, 'Asia/Shanghai')).toBe('2024-05-02 01:30')
    expect(formatDateTime(ms, 'UTC')).toBe('2024-05-01 17:30')
    expect(formatDateTime(ms, 'America/New_York', 'en')).toBe('2024-05-01 13:30')
  })

  it('takes the calendar day from the shop zone', () => {
    expect(dayIn(ms, 'Asia/Shanghai')).toBe('2024-05-02')
    expect(dayIn(ms, 'UTC')).toBe('2024-05-01')
  })

  it('shows the time for today, the date this year, the full date before', () => {
    const now = Date.UTC(2024, 4, 2, 3, 0) // 11:00 on May 2nd in Shanghai
    expect(formatListTime(ms, 'Asia/Shanghai', now)).toBe('01:30')
    expect(formatListTime(ms - 24 * 3_600_000, 'Asia/Shanghai', now)).toBe('05-01')
    expect(formatListTime(Date.UTC(2023, 11, 31, 1, 0), 'Asia/Shanghai', now)).toBe('2023-12-31')
  })

  it('uses the 24-hour clock at midnight', () => {
    expect(formatDateTime(Date.UTC(2024, 0, 1, 16, 5), 'Asia/Shanghai')).toBe('2024-01-02 00:05')
  })

  it('formats durations as hours and minutes', () => {
    expect(formatDuration(0)).toBe('0m')
    expect(formatDuration(12 * 60_000 + 59_000)).toBe('12m')
    expect(formatDuration((3 * 60 + 5) * 60_000)).toBe('3h 05m')
    expect(formatDuration(-5)).toBe('0m')
  })
})
