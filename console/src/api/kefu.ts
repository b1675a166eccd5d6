// One function per endpoint the console calls, typed against docs/openapi.yaml (types.ts).
import type { ApiClient } from './client'
import type {
  AgentList, ConversationContext, CustomerFull, ConversationTicket, MessagePage, Note, QueueList,
  QuickReplyList, StaffChallenge, StaffRefreshed, StaffSession, Message, Ticket, TransferRequest,
  WorkbenchViewCounts, WorkbenchViewName, WorkbenchViewPage, Conversation, NotificationList, Staff, StaffSignedOut,
} from './types'

const enc = encodeURIComponent

export type Me = Staff & { timezone: string }

export type LoginAnswer = StaffSession | StaffChallenge

export function isChallenge(answer: LoginAnswer): answer is StaffChallenge {
  return 'challenge' in answer
}

export function kefuApi(client: ApiClient) {
  const conv = (id: string): string => `/v1/conversations/${enc(id)}`
  return {
    // -- sign-in (no bearer; the refresh token comes back as the HttpOnly cookie)
    login: (shop_id: string, username: string, password: string) =>
      client.request<LoginAnswer>('POST', '/v1/staff/login', {
        body: { shop_id, username, password, refresh_cookie: true }, auth: false,
      }),
    loginMfa: (shop_id: string, username: string, session: string, code: string) =>
      client.request<StaffSession>('POST', '/v1/staff/login/mfa', {
        body: { shop_id, username, session, code }, query: { refresh_cookie: 1 }, auth: false,
      }),
    loginNewPassword: (shop_id: string, username: string, session: string, new_password: string) =>
      client.request<LoginAnswer>('POST', '/v1/staff/login/new-password', {
        body: { shop_id, username, session, new_password }, query: { refresh_cookie: 1 }, auth: false,
      }),
    refresh: () => client.request<StaffRefreshed>('POST', '/v1/staff/login/refresh', { body: {}, auth: false }),
    logout: () => client.post<StaffSignedOut>('/v1/staff/logout'),
    me: () => client.get<Me>('/v1/staff/me'),

    // -- inbox
    viewCounts: () => client.get<WorkbenchViewCounts>('/v1/workbench/views'),
    view: (view: WorkbenchViewName, cursor?: string | null, limit = 30) =>
      client.get<WorkbenchViewPage>(`/v1/workbench/views/${view}`, { cursor, limit }),
    queues: () => client.get<QueueList>('/v1/queues'),
    agents: () => client.get<AgentList>('/v1/agents'),
    notifications: (unread = true) => client.get<NotificationList>('/v1/notifications', { unread }),

    // -- one conversation
    context: (id: string) => client.get<ConversationContext>(`/v1/workbench/conversations/${enc(id)}`),
    messages: (id: string, query: { after?: string; before?: string; limit?: number } = {}) =>
      client.get<MessagePage>(`${conv(id)}/messages`, query),
    claim: (id: string) => client.post<Conversation>(`${conv(id)}/claim`),
    assign: (id: string, assignee: string, force = false) => client.post<Conversation>(`${conv(id)}/assign`, { assignee, force }),
    transfer: (id: string, body: TransferRequest) => client.post<Conversation>(`${conv(id)}/transfer`, body),
    resolve: (id: string) => client.post<Conversation>(`${conv(id)}/resolve`),
    pending: (id: string) => client.post<Conversation>(`${conv(id)}/pending`),
    snooze: (id: string, until: number) => client.post<Conversation>(`${conv(id)}/snooze`, { until }),
    reply: (id: string, text: string, client_message_id: string) =>
      client.post<Message>(`${conv(id)}/replies`, { type: 'text', text, client_message_id }),
    resend: (id: string, messageId: string) => client.post<Message>(`${conv(id)}/messages/${enc(messageId)}/resend`),
    note: (id: string, text: string, mentions: string[] = []) => client.post<Note>(`${conv(id)}/notes`, { text, mentions }),
    typing: (id: string, typing: boolean) => client.post<unknown>(`${conv(id)}/typing`, { typing }),
    quickReplies: (conversationId?: string) =>
      client.get<QuickReplyList>('/v1/quick-replies', { conversation_id: conversationId }),
    sendQuickReply: (id: string, quickReplyId: string) =>
      client.post<Message>(`${conv(id)}/quick-replies/${enc(quickReplyId)}/send`),
    /** The profile with personal fields unmasked: audited (customer.personal_viewed); owner, supervisor. */
    revealCustomer: (customerId: string) => client.get<CustomerFull>(`/v1/customers/${enc(customerId)}`, { reveal: true }),
    createTicket: (id: string, body: ConversationTicket) => client.post<Ticket>(`${conv(id)}/tickets`, body),
  }
}

export type KefuApi = ReturnType<typeof kefuApi>
