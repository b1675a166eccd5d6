// The shop's settings the screens share: its time zone (the SLA calendar's, docs/tickets.md),
// queues and agents for transfer and filters.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api'
import type { AgentState, Queue } from '@/api/types'
import { DEFAULT_TIME_ZONE } from '@/lib/time'

export const useShopStore = defineStore('shop', () => {
  const timeZone = ref(DEFAULT_TIME_ZONE)
  const queues = ref<Queue[]>([])
  const agents = ref<AgentState[]>([])

  async function load(): Promise<void> {
    const [calendar, queueList, agentList] = await Promise.allSettled([api().calendar(), api().queues(), api().agents()])
    if (calendar.status === 'fulfilled' && calendar.value.timezone) timeZone.value = calendar.value.timezone
    if (queueList.status === 'fulfilled') queues.value = queueList.value.queues
    if (agentList.status === 'fulfilled') agents.value = agentList.value.agents
  }

  return { timeZone, queues, agents, load }
})
