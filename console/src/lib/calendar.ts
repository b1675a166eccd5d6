// The SLA calendar form ↔ the API's CalendarBody (docs/tickets.md): hours typed as
// "09:00-12:00, 13:30-18:00" per weekday, dates one a line. Bad entries are reported, never sent.
import type { Calendar, CalendarBody } from '@/api/tickets'

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Weekday = (typeof WEEKDAYS)[number]

export interface CalendarForm {
  timezone: string
  weekly: Record<Weekday, string>
  holidays: string
  workdays: string
  workdayHours: string
}

const SPAN = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/
const DATE = /^\d{4}-\d{2}-\d{2}$/

export function calendarForm(calendar: Calendar): CalendarForm {
  const weekly = Object.fromEntries(WEEKDAYS.map((d) => [d, (calendar.weekly?.[d] ?? []).join(', ')])) as Record<Weekday, string>
  return {
    timezone: calendar.timezone ?? 'Asia/Shanghai',
    weekly,
    holidays: (calendar.holidays ?? []).join('\n'),
    workdays: (calendar.workdays ?? []).join('\n'),
    workdayHours: (calendar.workday_hours ?? []).join(', '),
  }
}

/** "09:00-12:00，13:30-18:00" → ["09:00-12:00", "13:30-18:00"] (ASCII or full-width commas, spaces). */
export function parseSpans(text: string): string[] {
  return text.split(/[,，;；\s]+/).map((s) => s.replace(/[–—~～]/g, '-')).filter(Boolean)
}

export function parseDates(text: string): string[] {
  return [...new Set(text.split(/[\s,，;；]+/).filter(Boolean))].sort()
}

export type CalendarResult = { ok: true; body: CalendarBody } | { ok: false; invalid: string }

export function calendarBody(form: CalendarForm): CalendarResult {
  const weekly: Record<string, string[]> = {}
  for (const day of WEEKDAYS) {
    const spans = parseSpans(form.weekly[day])
    const bad = spans.find((s) => !SPAN.test(s))
    if (bad) return { ok: false, invalid: bad }
    weekly[day] = spans
  }
  const holidays = parseDates(form.holidays)
  const workdays = parseDates(form.workdays)
  const badDate = [...holidays, ...workdays].find((d) => !DATE.test(d))
  if (badDate) return { ok: false, invalid: badDate }
  const workdayHours = parseSpans(form.workdayHours)
  const badSpan = workdayHours.find((s) => !SPAN.test(s))
  if (badSpan) return { ok: false, invalid: badSpan }
  const body: CalendarBody = {
    timezone: form.timezone.trim() || 'Asia/Shanghai',
    weekly: weekly as CalendarBody['weekly'],
    holidays,
    workdays,
    workday_hours: workdayHours.length ? workdayHours : null,
  }
  return { ok: true, body }
}
