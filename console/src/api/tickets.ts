// Tickets, SLA settings, staff and the audit trail (docs/tickets.md, docs/staff.md), typed
// against docs/openapi.yaml. Kept apart from kefu.ts so each area owns its endpoint module.
import { httpClient } from './index'
import type { components } from './schema'

type S = components['schemas']
const enc = encodeURIComponent

export type Ticket = S['Ticket']
export type TicketHistoryItem = S['TicketHistoryItem']
export type TicketDetail = Ticket & { history?: TicketHistoryItem[] }
export type TicketChange = S['TicketChange']
export type NewTicket = S['NewTicket']
export type NewComment = S['NewComment']
export type TicketStatus = Ticket['status']
export type TicketPriority = Ticket['priority']
export type Calendar = S['Calendar']
export type CalendarBody = S['CalendarBody']
export type SlaPolicies = S['SlaPoliciesBody']
export type StaffMember = S['Staff']
export type StaffList = S['StaffList']
export type NewStaff = S['NewStaff']
export type StaffChange = S['StaffChange']
export type AuditRecord = S['AuditRecord']
export type AuditList = S['AuditList']

export const TICKET_STATUSES: TicketStatus[] = ['new', 'open', 'pending', 'resolved', 'closed']
export const TICKET_PRIORITIES: TicketPriority[] = ['low', 'normal', 'high', 'urgent']

export interface TicketQuery {
  status?: TicketStatus | ''
  assignee?: string
  customer_id?: string
  priority?: TicketPriority | ''
  department?: string
  cursor?: string | null
  limit?: number
}

export interface AuditQuery {
  actor?: string
  action?: string
  target_type?: string
  target_id?: string
  from?: string
  to?: string
  cursor?: string | null
  limit?: number
}

export const ticketsApi = {
  list: (query: TicketQuery) =>
    httpClient().get<{ tickets: Ticket[]; next_cursor: string | null }>('/v1/tickets', { ...query }),
  get: (id: string) => httpClient().get<TicketDetail>(`/v1/tickets/${enc(id)}`),
  create: (body: NewTicket) => httpClient().post<Ticket>('/v1/tickets', body),
  update: (id: string, change: TicketChange) => httpClient().patch<Ticket>(`/v1/tickets/${enc(id)}`, change),
  comment: (id: string, body: NewComment) =>
    httpClient().post<{ ticket_id: string; comment: TicketHistoryItem; ticket: Ticket }>(`/v1/tickets/${enc(id)}/comments`, body),
}

export const settingsApi = {
  calendar: () => httpClient().get<Calendar>('/v1/sla/calendar'),
  putCalendar: (body: CalendarBody) => httpClient().put<Calendar>('/v1/sla/calendar', body),
  policies: () => httpClient().get<SlaPolicies>('/v1/sla/policies'),
  putPolicies: (body: SlaPolicies) => httpClient().put<SlaPolicies>('/v1/sla/policies', body),
  staff: (cursor?: string | null) => httpClient().get<StaffList>('/v1/staff', { cursor, limit: 100 }),
  createStaff: (body: NewStaff) => httpClient().post<StaffMember>('/v1/staff', body),
  updateStaff: (username: string, change: StaffChange) => httpClient().patch<StaffMember>(`/v1/staff/${enc(username)}`, change),
  resetPassword: (username: string) =>
    httpClient().post<{ username: string; temporary_password: string; must_change_at_next_sign_in: boolean }>(`/v1/staff/${enc(username)}/password-reset`),
  setCapacity: (username: string, capacity: number) => httpClient().put<unknown>(`/v1/agents/${enc(username)}`, { capacity }),
  wechat: () => httpClient().get<S['WeChatSettingsView']>('/v1/shop/wechat-settings'),
  putWechat: (body: S['WeChatSettingsPut']) => httpClient().put<S['WeChatSettingsView']>('/v1/shop/wechat-settings', body),
  queues: () => httpClient().get<S['QueueList']>('/v1/queues'),
  createQueue: (body: S['NewQueue']) => httpClient().post<S['Queue']>('/v1/queues', body),
  updateQueue: (id: string, change: S['QueueChange']) => httpClient().patch<S['Queue']>(`/v1/queues/${enc(id)}`, change),
  rules: () => httpClient().get<S['RoutingRules']>('/v1/routing/rules'),
  putRules: (body: S['RoutingRulesPut']) => httpClient().put<S['RoutingRules']>('/v1/routing/rules', body),
  audit: (query: AuditQuery) => httpClient().get<AuditList>('/v1/audit', { ...query }),
}
