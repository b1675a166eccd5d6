// What the Customers screens share: the tag catalogue, custom attribute definitions and tier
// ids, loaded once per visit and reloaded after an edit.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { customersApi, type CustomerAttribute, type Tag, type TagGroup } from '@/api/customers'
import { useAuthStore } from '@/stores/auth'

export const useCatalogue = defineStore('customers-catalogue', () => {
  const tags = ref<Tag[]>([])
  const groups = ref<TagGroup[]>([])
  const attributes = ref<CustomerAttribute[]>([])
  const tiers = ref<{ tier_id: string; name: string }[]>([])
  let loaded: Promise<void> | null = null

  const tagById = computed(() => new Map(tags.value.map((t) => [t.tag_id, t])))
  const tierName = (id: string | null | undefined): string => (id ? tiers.value.find((t) => t.tier_id === id)?.name ?? id : '')

  async function reload(): Promise<void> {
    const api = customersApi()
    const [t, g, a, s] = await Promise.allSettled([api.tags(), api.tagGroups(), api.attributes(), api.tierSettings()])
    if (t.status === 'fulfilled') tags.value = t.value.tags
    if (g.status === 'fulfilled') groups.value = [...g.value.groups].sort((x, y) => x.position - y.position)
    if (a.status === 'fulfilled') attributes.value = a.value.attributes
    if (s.status === 'fulfilled') tiers.value = s.value.tiers.map((x) => ({ tier_id: x.tier_id, name: x.name }))
  }

  function load(): Promise<void> {
    loaded ??= reload()
    return loaded
  }

  return { tags, groups, attributes, tiers, tagById, tierName, load, reload }
})

/** What the signed-in role may do here (the API enforces the same; the screen hides the rest). */
export function usePermissions() {
  const auth = useAuthStore()
  return computed(() => ({
    bulk: auth.role === 'owner' || auth.role === 'supervisor',
    reveal: auth.role === 'owner' || auth.role === 'supervisor',
    merge: auth.role === 'owner' || auth.role === 'supervisor',
    owner: auth.role === 'owner',
    edit: auth.role === 'owner' || auth.role === 'supervisor' || auth.role === 'agent',
    settings: auth.role === 'owner' || auth.role === 'supervisor',
  }))
}

/** How old a cached count is, in the largest whole unit. */
export function ageParts(seconds: number): { unit: 's' | 'm' | 'h' | 'd'; n: number } {
  if (seconds < 60) return { unit: 's', n: Math.max(0, Math.floor(seconds)) }
  if (seconds < 3600) return { unit: 'm', n: Math.floor(seconds / 60) }
  if (seconds < 86400) return { unit: 'h', n: Math.floor(seconds / 3600) }
  return { unit: 'd', n: Math.floor(seconds / 86400) }
}
