// The shop's settings the screens share: its time zone (GET /v1/staff/me, the business
// calendar's), and for supervisors and owners the queues and agents (transfer, filters).
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api'
import type { AgentState, Queue } from '@/api/types'
import { DEFAULT_TIME_ZONE } from '@/lib/time'

export const useShopStore = defineStore('shop', () => {
  const timeZone = ref(DEFAULT_TIME_ZONE)
  const queues = ref<Queue[]>([])
  const agents = ref<AgentState[]>([])

  async function load(supervisor: boolean): Promise<void> {
    const me = await api().me()
    timeZone.value = me.timezone || DEFAULT_TIME_ZONE
    if (!supervisor) return // agents may not list queues and agents (GET /v1/queues, /v1/agents)
    const [queueList, agentList] = await Promise.allSettled([api().queues(), api().agents()])
    if (queueList.status === 'fulfilled') queues.value = queueList.value.queues
    if (agentList.status === 'fulfilled') agents.value = agentList.value.agents
  }

  return { timeZone, queues, agents, load }
})
