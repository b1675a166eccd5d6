// Times are epoch milliseconds in the API; people read them in the shop's time zone, never the
// browser's (an agent may work from another zone than the shop's customers).

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai'

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(locale: string, timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${timeZone}|${JSON.stringify(options)}`
  let found = formatters.get(key)
  if (!found) {
    found = new Intl.DateTimeFormat(locale, { timeZone, hourCycle: 'h23', ...options })
    formatters.set(key, found)
  }
  return found
}

/** The calendar day of `ms` in `timeZone`, as YYYY-MM-DD. */
export function dayIn(ms: number, timeZone: string): string {
  const parts = formatter('en-CA', timeZone, { year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(ms)
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')}`
}

/** A full timestamp: 2024-05-01 14:03. */
export function formatDateTime(ms: number, timeZone: string, locale = 'zh-CN'): string {
  const parts = formatter(locale === 'en' ? 'en-CA' : 'zh-CN', timeZone, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).formatToParts(ms)
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`
}

/**
 * A list timestamp as chat apps show it: the time for today (in the shop's zone), the date
 * without the year for this year, the full date otherwise.
 */
export function formatListTime(ms: number, timeZone: string, now: number = Date.now()): string {
  const day = dayIn(ms, timeZone)
  const today = dayIn(now, timeZone)
  const full = formatDateTime(ms, timeZone)
  if (day === today) return full.slice(11)
  if (day.slice(0, 4) === today.slice(0, 4)) return full.slice(5, 10)
  return day
}

/** A duration in minutes/hours for countdowns ("3h 05m", "12m"). */
export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000))
  const hours = Math.floor(minutes / 60)
  const rest = minutes % 60
  return hours > 0 ? `${hours}h ${String(rest).padStart(2, '0')}m` : `${rest}m`
}
