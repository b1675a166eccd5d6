// A ticket's SLA clocks as the screens show them (docs/tickets.md "Clocks"): which deadline
// runs, how long is left (or how late it is), and the due moment in the shop's time zone.
import type { Ticket } from '@/api/tickets'
import { formatDateTime, formatDuration } from './time'

export type ClockKind = 'first_response' | 'resolution'

export interface Clock {
  kind: ClockKind
  /** The due moment, epoch ms. */
  dueAt: number
  /** In the shop's zone: 2026-12-02 17:30. */
  dueText: string
  /** met: done before due; running; paused (pending/resolved/closed); breached: due passed. */
  state: 'met' | 'running' | 'paused' | 'breached'
  /** Milliseconds left (running/paused) or late (breached); 0 when met. */
  remainingMs: number
  /** "3h 05m" left or late. */
  remainingText: string
}

function clock(kind: ClockKind, dueAt: number, doneAt: number | null, pausedAt: number | null, breached: boolean, now: number, timeZone: string, locale: string): Clock {
  let state: Clock['state']
  let remainingMs: number
  if (doneAt !== null) {
    state = doneAt <= dueAt && !breached ? 'met' : 'breached'
    remainingMs = state === 'met' ? 0 : doneAt - dueAt
  } else if (breached || now > dueAt) {
    state = 'breached'
    remainingMs = (pausedAt ?? now) - dueAt
  } else if (pausedAt !== null) {
    state = 'paused'
    remainingMs = dueAt - pausedAt
  } else {
    state = 'running'
    remainingMs = dueAt - now
  }
  remainingMs = Math.max(0, remainingMs)
  return { kind, dueAt, dueText: formatDateTime(dueAt, timeZone, locale), state, remainingMs, remainingText: formatDuration(remainingMs) }
}

/** Both clocks of a ticket that has targets (a shop may have none for a priority). */
export function ticketClocks(ticket: Pick<Ticket, 'sla' | 'status' | 'resolved_at'>, now: number, timeZone: string, locale = 'zh-CN'): Clock[] {
  const sla = ticket.sla
  const breached = new Set((sla.breaches ?? []).map((b) => b.kind))
  const clocks: Clock[] = []
  if (sla.first_response_due_at != null) {
    clocks.push(clock('first_response', sla.first_response_due_at, sla.first_response_at ?? null, null, breached.has('first_response'), now, timeZone, locale))
  }
  if (sla.resolution_due_at != null) {
    const finished = ticket.status === 'resolved' || ticket.status === 'closed'
    const doneAt = finished ? (ticket.resolved_at ?? sla.paused_at ?? null) : null
    // pending pauses the clock: the time left stays as it was when it stopped
    const pausedAt = !finished && sla.paused_at != null ? sla.paused_at : null
    clocks.push(clock('resolution', sla.resolution_due_at, doneAt, pausedAt, breached.has('resolution'), now, timeZone, locale))
  }
  return clocks
}

/** The clock a list shows: a breached one first, else the running one due soonest. */
export function headlineClock(clocks: Clock[]): Clock | null {
  const open = clocks.filter((c) => c.state !== 'met')
  const breached = open.find((c) => c.state === 'breached')
  if (breached) return breached
  const sorted = [...open].sort((a, b) => a.dueAt - b.dueAt)
  return sorted[0] ?? null
}
