// A ticket's history item as one readable line: who did what, in the shop's time zone.
import type { TicketHistoryItem } from '@/api/tickets'

/** "staff:xiaowang" → "xiaowang"; "system:sla" stays as is. */
export function actorName(actor: string): string {
  return actor.startsWith('staff:') ? actor.slice(6) : actor
}

/** A before/after value as text: null → "—", arrays joined, objects as JSON. */
export function valueText(value: unknown, translate?: (value: string) => string): string {
  if (value === null || value === undefined || value === '') return '—'
  if (Array.isArray(value)) return value.length ? value.map((v) => valueText(v, translate)).join(', ') : '—'
  if (typeof value === 'object') return JSON.stringify(value)
  const text = String(value)
  return translate ? translate(text) : text
}

export type HistoryKind = TicketHistoryItem['kind']
