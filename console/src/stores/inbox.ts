// The inbox: view counts, the open view's conversations (filtered), unread markers and the
// realtime frames that keep them live. Counts are re-read (one cheap call) after a frame rather
// than adjusted by hand, so they never drift from the server's.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api } from '@/api'
import type { ListedConversation, RealtimeFrame, WorkbenchViewCounts, WorkbenchViewName } from '@/api/types'

export interface InboxFilters {
  queue: string
  channel: string
  tier: string
  tag: string
}

/** Filters over the loaded page (the view's Query decides what is loaded). */
export function applyFilters(conversations: ListedConversation[], filters: InboxFilters): ListedConversation[] {
  return conversations.filter(
    (c) =>
      (!filters.queue || c.queue === filters.queue) &&
      (!filters.channel || c.channel === filters.channel) &&
      (!filters.tier || c.customer?.tier === filters.tier) &&
      (!filters.tag || (c.customer?.tags ?? []).includes(filters.tag)),
  )
}

/** The tiers and tags present in the loaded conversations, for the filter menus. */
export function facets(conversations: ListedConversation[]): { tiers: string[]; tags: string[] } {
  const tiers = new Set<string>()
  const tags = new Set<string>()
  for (const c of conversations) {
    if (c.customer?.tier) tiers.add(c.customer.tier)
    for (const tag of c.customer?.tags ?? []) tags.add(tag)
  }
  return { tiers: [...tiers].sort(), tags: [...tags].sort() }
}

/** The next (step 1) or previous (-1) conversation id in the list, wrapping around. */
export function neighbour(ids: string[], current: string | null, step: 1 | -1): string | null {
  if (ids.length === 0) return null
  const index = current === null ? -1 : ids.indexOf(current)
  if (index === -1) return step === 1 ? ids[0]! : ids[ids.length - 1]!
  return ids[(index + step + ids.length) % ids.length]!
}

export const useInboxStore = defineStore('inbox', () => {
  const counts = ref<WorkbenchViewCounts | null>(null)
  const view = ref<WorkbenchViewName>('mine')
  const conversations = ref<ListedConversation[]>([])
  const nextCursor = ref<string | null>(null)
  const loading = ref(false)
  const filters = ref<InboxFilters>({ queue: '', channel: '', tier: '', tag: '' })
  const selectedId = ref<string | null>(null)
  /** Messages that arrived over the socket since the agent last opened each conversation. */
  const liveUnread = ref<Record<string, number>>({})
  const connected = ref(false)
  /** Bumped when a frame concerns the open conversation, so its pane reloads. */
  const selectedVersion = ref(0)

  const visible = computed(() => applyFilters(conversations.value, filters.value))

  function unreadOf(c: ListedConversation): number {
    if (c.conversation_id === selectedId.value) return 0
    return (c.unread_count ?? 0) + (liveUnread.value[c.conversation_id] ?? 0)
  }

  async function loadCounts(): Promise<void> {
    counts.value = await api().viewCounts()
  }

  async function loadView(name: WorkbenchViewName = view.value): Promise<void> {
    loading.value = true
    try {
      const page = await api().view(name)
      view.value = name
      conversations.value = page.conversations
      nextCursor.value = page.next_cursor
    } finally {
      loading.value = false
    }
  }

  async function loadMore(): Promise<void> {
    if (!nextCursor.value) return
    const page = await api().view(view.value, nextCursor.value)
    conversations.value = [...conversations.value, ...page.conversations]
    nextCursor.value = page.next_cursor
  }

  function select(id: string | null): void {
    selectedId.value = id
    if (id) {
      const rest = { ...liveUnread.value }
      delete rest[id]
      liveUnread.value = rest
    }
  }

  /** Applies a realtime frame; returns the conversation id it concerned (for notifications). */
  async function onFrame(frame: RealtimeFrame): Promise<string | null> {
    const id = typeof frame.data?.conversation_id === 'string' ? frame.data.conversation_id : null
    if (!id) return null
    if (frame.type === 'message.received' && id !== selectedId.value) {
      liveUnread.value = { ...liveUnread.value, [id]: (liveUnread.value[id] ?? 0) + 1 }
    }
    if (id === selectedId.value) selectedVersion.value++
    await Promise.allSettled([loadCounts(), loadView()])
    return id
  }

  function reset(): void {
    counts.value = null
    conversations.value = []
    selectedId.value = null
    liveUnread.value = {}
  }

  return {
    counts, view, conversations, nextCursor, loading, filters, selectedId, liveUnread, connected,
    selectedVersion, visible, unreadOf, loadCounts, loadView, loadMore, select, onFrame, reset,
  }
})
