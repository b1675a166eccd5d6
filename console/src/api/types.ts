// Names for the schemas the console uses, from schema.d.ts — generated from docs/openapi.yaml by
// `npm run gen:api` (openapi-typescript) before every build, type check and test run, so an API
// change that breaks the console fails vue-tsc. Not committed: the document is the source.
import type { components } from './schema'

type S = components['schemas']

export type Staff = S['Staff']
export type StaffSession = S['StaffSession']
export type StaffChallenge = S['StaffChallenge']
export type StaffRefreshed = S['StaffRefreshed']
export type StaffSignedOut = S['StaffSignedOut']
export type Conversation = S['Conversation']
export type ConversationStatus = Conversation['status']
export type Handoff = NonNullable<S['Handoff']>
export type Message = S['Message']
export type MessagePage = S['MessagePage']
export type SentMessage = S['SentMessage']
export type WorkbenchViewCounts = S['WorkbenchViewCounts']
export type WorkbenchViewName = WorkbenchViewCounts['views'][number]['view']
export type WorkbenchViewPage = S['WorkbenchViewPage']
/** A conversation as a view lists it: with its customer's name, tier and tags. */
export type ListedConversation = WorkbenchViewPage['conversations'][number]
export type ConversationContext = S['ConversationContext']
export type CustomerProfile = S['CustomerProfile']
export type CustomerFull = S['CustomerFull']
export type ConversationSummary = S['ConversationSummary']
export type QuickReply = S['QuickReply']
export type QuickReplyList = S['QuickReplyList']
export type Ticket = S['Ticket']
export type ConversationTicket = S['ConversationTicket']
export type TransferRequest = S['TransferRequest']
export type Queue = S['Queue']
export type QueueList = S['QueueList']
export type AgentList = S['AgentList']
export type AgentState = S['AgentState']
export type Calendar = S['Calendar']
export type Note = S['Note']
export type NotificationList = S['NotificationList']

/** A realtime frame (docs/realtime.md): one per domain event. */
export interface RealtimeFrame {
  type: string
  event_id?: string
  at?: number
  data?: Record<string, unknown>
  error?: { code: string; message: string }
}
