// The audit viewer's filters → GET /v1/audit's query (docs/openapi.yaml `listAudit`).
import type { AuditQuery } from '@/api/tickets'
import type { components, operations } from '@/api/schema'

type AuditParams = NonNullable<operations['listAudit']['parameters']['query']>
export const AUDIT_TARGET_TYPES: NonNullable<AuditParams['target_type']>[] = [
  'agent', 'bot_settings', 'bot_suggestion', 'conversation', 'customer', 'customer_attribute', 'kb', 'kb_entry',
  'keyword_rule', 'message', 'published_version', 'queue', 'quick_reply', 'routing_rules', 'shop', 'sla', 'staff', 'ticket',
]
export type AuditRecord = components['schemas']['AuditRecord']

export interface AuditFilters {
  actor: string
  action: string
  target_type: string
  target_id: string
  /** YYYY-MM-DD, a day in the shop's time zone. */
  from: string
  to: string
}

/** Offset of `timeZone` from UTC at `ms`, in ms (Asia/Shanghai: +8h). */
function zoneOffset(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(ms)
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value)
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return asUtc - Math.floor(ms / 1000) * 1000
}

/** The first millisecond of `day` (YYYY-MM-DD) in `timeZone`. */
export function startOfDay(day: string, timeZone: string): number {
  const [y = 1970, m = 1, d = 1] = day.split('-').map(Number)
  const utcMidnight = Date.UTC(y, m - 1, d)
  // the offset at the guess; twice, in case the guess sits across a DST change
  let start = utcMidnight - zoneOffset(utcMidnight, timeZone)
  start = utcMidnight - zoneOffset(start, timeZone)
  return start
}

/**
 * The API reads bare dates as UTC days; people mean the shop's days, so dates are sent as the
 * epoch milliseconds of the shop's midnight (from) and the last millisecond of the day (to).
 * A bare username as actor means the staff member.
 */
export function auditQuery(filters: AuditFilters, timeZone: string): AuditQuery {
  const query: AuditQuery = {}
  const actor = filters.actor.trim()
  if (actor) query.actor = actor.includes(':') ? actor : `staff:${actor}`
  if (filters.action.trim()) query.action = filters.action.trim()
  if (filters.target_type) query.target_type = filters.target_type
  if (filters.target_id.trim() && filters.target_type) query.target_id = filters.target_id.trim()
  if (filters.from) query.from = String(startOfDay(filters.from, timeZone))
  if (filters.to) {
    const [y = 1970, m = 1, d = 1] = filters.to.split('-').map(Number)
    const next = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10)
    query.to = String(startOfDay(next, timeZone) - 1)
  }
  return query
}
