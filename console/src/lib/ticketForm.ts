// Form → API bodies for tickets: blanks become absent (the API treats a missing field as "none"
// but rejects an empty string), text trimmed.
import type { NewTicket, TicketQuery, Ticket } from '@/api/tickets'

export interface NewTicketForm {
  subject: string
  type: NonNullable<NewTicket['type']>
  priority: NonNullable<NewTicket['priority']>
  description: string
  department: string
  assignee: string
  customer_id: string
}

export function newTicketBody(form: NewTicketForm): NewTicket {
  const body: NewTicket = { subject: form.subject.trim(), type: form.type, priority: form.priority }
  const optional = (value: string): string | undefined => value.trim() || undefined
  const description = optional(form.description)
  const department = optional(form.department)
  const assignee = optional(form.assignee)
  const customer = optional(form.customer_id)
  if (description) body.description = description
  if (department) body.department = department
  if (assignee) body.assignee = assignee
  if (customer) body.customer_id = customer
  return body
}

export interface TicketFilters {
  status: Ticket['status'] | ''
  priority: Ticket['priority'] | ''
  assignee: string
  department: string
  customer_id: string
}

/**
 * The list reads one index per request (assignee, else customer, else status: docs/tickets.md);
 * the API narrows that page by the rest, priority and department included.
 */
export function ticketQuery(filters: TicketFilters): TicketQuery {
  const query: TicketQuery = {}
  if (filters.assignee) query.assignee = filters.assignee
  if (filters.customer_id.trim()) query.customer_id = filters.customer_id.trim()
  if (filters.status) query.status = filters.status
  if (filters.priority) query.priority = filters.priority
  if (filters.department.trim()) query.department = filters.department.trim()
  return query
}

/** Rows loaded before a filter changed drop out at once, while the new page loads. */
export function narrowTickets(tickets: Ticket[], filters: TicketFilters): Ticket[] {
  const department = filters.department.trim()
  return tickets.filter((ticket) =>
    (!filters.priority || ticket.priority === filters.priority)
    && (!department || ticket.department === department)
    && (!filters.status || ticket.status === filters.status),
  )
}
