import { describe, expect, it } from 'vitest'
import type { Ticket } from '@/api/tickets'
import { headlineClock, ticketClocks } from '@/lib/sla'
import { narrowTickets, newTicketBody, ticketQuery, type TicketFilters } from '@/lib/ticketForm'
import { actorName, valueText } from '@/lib/ticketHistory'
import { staffPermissions } from '@/lib/staffPermissions'

const MIN = 60_000
const HOUR = 60 * MIN
// 2026-12-02 09:00 in Shanghai is 01:00 UTC
const NINE_SHANGHAI = Date.UTC(2026, 11, 2, 1, 0)

function ticket(over: Partial<Ticket> = {}, sla: Partial<Ticket['sla']> = {}): Ticket {
  return {
    ticket_id: 'tk_1', short_id: 'A1B2C3D4', type: 'refund', priority: 'high', status: 'open', subject: '退款没到账',
    created_at: NINE_SHANGHAI, updated_at: NINE_SHANGHAI,
    sla: { first_response_due_at: NINE_SHANGHAI + HOUR, resolution_due_at: NINE_SHANGHAI + 8 * HOUR, paused_minutes: 0, breaches: [], ...sla },
    ...over,
  } as Ticket
}

describe('SLA clocks', () => {
  it('count down to each due moment, shown in the shop’s time zone', () => {
    const [first, resolution] = ticketClocks(ticket(), NINE_SHANGHAI + 25 * MIN, 'Asia/Shanghai')
    expect(first).toMatchObject({ kind: 'first_response', state: 'running', remainingText: '35m', dueText: '2026-12-02 10:00' })
    expect(resolution).toMatchObject({ kind: 'resolution', state: 'running', remainingText: '7h 35m', dueText: '2026-12-02 17:00' })
  })

  it('show the same due moment in another zone when the shop is elsewhere', () => {
    const [first] = ticketClocks(ticket(), NINE_SHANGHAI, 'Europe/London')
    expect(first?.dueText).toBe('2026-12-02 02:00')
  })

  it('are met when the first response came in time', () => {
    const [first] = ticketClocks(ticket({}, { first_response_at: NINE_SHANGHAI + 10 * MIN }), NINE_SHANGHAI + 2 * HOUR, 'Asia/Shanghai')
    expect(first).toMatchObject({ state: 'met', remainingMs: 0 })
  })

  it('say how late a passed deadline is, and the list shows the breach first', () => {
    const clocks = ticketClocks(ticket(), NINE_SHANGHAI + HOUR + 5 * MIN, 'Asia/Shanghai')
    expect(clocks[0]).toMatchObject({ state: 'breached', remainingText: '5m' })
    expect(headlineClock(clocks)?.kind).toBe('first_response')
  })

  it('report a breach the sweep recorded even before the browser’s clock passes due', () => {
    const breaches = [{ kind: 'resolution' as const, due_at: NINE_SHANGHAI + 8 * HOUR, at: NINE_SHANGHAI + 8 * HOUR }]
    const clocks = ticketClocks(ticket({}, { first_response_at: NINE_SHANGHAI, breaches }), NINE_SHANGHAI + 7 * HOUR, 'Asia/Shanghai')
    expect(clocks[1]?.state).toBe('breached')
  })

  it('pause while pending: the time left stays what it was when the clock stopped', () => {
    const pending = ticket({ status: 'pending' }, { first_response_at: NINE_SHANGHAI, paused_at: NINE_SHANGHAI + 2 * HOUR })
    const [, resolution] = ticketClocks(pending, NINE_SHANGHAI + 5 * HOUR, 'Asia/Shanghai')
    expect(resolution).toMatchObject({ state: 'paused', remainingText: '6h 00m' })
  })

  it('are met when resolved before due, and the headline is then none', () => {
    const resolved = ticket({ status: 'resolved', resolved_at: NINE_SHANGHAI + 3 * HOUR }, { first_response_at: NINE_SHANGHAI, paused_at: NINE_SHANGHAI + 3 * HOUR })
    const clocks = ticketClocks(resolved, NINE_SHANGHAI + 20 * HOUR, 'Asia/Shanghai')
    expect(clocks.map((c) => c.state)).toEqual(['met', 'met'])
    expect(headlineClock(clocks)).toBeNull()
  })

  it('are absent when the shop has no target for the priority', () => {
    expect(ticketClocks(ticket({}, { first_response_due_at: null, resolution_due_at: null }), NINE_SHANGHAI, 'Asia/Shanghai')).toEqual([])
  })
})

describe('ticket forms', () => {
  const filters = (over: Partial<TicketFilters> = {}): TicketFilters => ({ status: '', priority: '', assignee: '', department: '', customer_id: '', ...over })

  it('send a new ticket without blank optional fields', () => {
    expect(newTicketBody({ subject: ' 发票抬头错误 ', type: 'other', priority: 'normal', description: ' ', department: '', assignee: '', customer_id: 'cus_1' }))
      .toEqual({ subject: '发票抬头错误', type: 'other', priority: 'normal', customer_id: 'cus_1' })
  })

  it('ask the API with every filter set, blanks left out', () => {
    expect(ticketQuery(filters({ assignee: 'me', status: 'open', priority: 'high', department: ' after-sales ' }))).toEqual({ assignee: 'me', status: 'open', priority: 'high', department: 'after-sales' })
    expect(ticketQuery(filters())).toEqual({})
  })

  it('drop rows that no longer match while the new page loads', () => {
    const list = [ticket({ priority: 'high', department: 'after-sales' }), ticket({ ticket_id: 'tk_2', priority: 'low', department: 'after-sales' }), ticket({ ticket_id: 'tk_3', priority: 'high', department: null })]
    expect(narrowTickets(list, filters({ priority: 'high', department: 'after-sales' })).map((t) => t.ticket_id)).toEqual(['tk_1'])
  })
})

describe('ticket history', () => {
  it('names staff without the prefix and shows empty values as a dash', () => {
    expect(actorName('staff:xiaowang')).toBe('xiaowang')
    expect(actorName('system:sla')).toBe('system:sla')
    expect(valueText(null)).toBe('—')
    expect(valueText(['a', 'b'])).toBe('a, b')
    expect(valueText('open', (v) => (v === 'open' ? '处理中' : v))).toBe('处理中')
  })
})

describe('staff permissions', () => {
  it('let owners change others’ roles and status, never their own', () => {
    expect(staffPermissions('owner', 'laoban', { username: 'xiaowang', role: 'agent' })).toEqual({ changeRole: true, disable: true, resetPassword: true, setCapacity: true })
    expect(staffPermissions('owner', 'laoban', { username: 'laoban', role: 'owner' })).toEqual({ changeRole: false, disable: false, resetPassword: false, setCapacity: false })
  })

  it('let supervisors reset agents’ passwords and set their capacity only', () => {
    expect(staffPermissions('supervisor', 'zhuguan', { username: 'xiaowang', role: 'agent' })).toEqual({ changeRole: false, disable: false, resetPassword: true, setCapacity: true })
    expect(staffPermissions('supervisor', 'zhuguan', { username: 'laoban', role: 'owner' }).resetPassword).toBe(false)
  })
})
