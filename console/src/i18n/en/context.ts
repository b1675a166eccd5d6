import type zh from '../zh-CN/context'

const en: typeof zh = {
  profile: 'Profile',
  tier: 'Tier',
  tags: 'Tags',
  contact: 'Contact',
  masked: 'Masked (your role may not read the full number)',
  points: 'Points',
  memberLevel: 'Member level',
  rfm: 'RFM scores',
  owner: 'Owner agent',
  notes: 'Notes',
  since: 'First seen',
  lastSeen: 'Last seen',
  orders: 'Orders',
  noOrders: 'No orders',
  logistics: 'Logistics trail',
  tickets: 'Open tickets',
  noTickets: 'No tickets',
  history: 'Previous conversations',
  noHistory: 'No previous conversations',
  redacted: '(another agent’s conversation: content hidden)',
  createTicket: 'Create ticket',
  ticket: {
    subject: 'Subject',
    type: 'Type',
    priority: 'Priority',
    types: { complaint: 'Complaint', refund: 'Refund', exchange: 'Exchange', inquiry: 'Inquiry', other: 'Other' },
    priorities: { low: 'Low', normal: 'Normal', high: 'High', urgent: 'Urgent' },
    created: 'Ticket {id} created',
  },
}
export default en
