// The Customers area's endpoints (customers, tags, segments, jobs, attributes, tiers), typed
// against docs/openapi.yaml. Kept apart from kefu.ts so each area owns its module.
import { apiClient } from './index'
import type { ApiClient } from './client'
import type { components } from './schema'

type S = components['schemas']
export type CustomerSummary = S['CustomerSummary']
export type CustomerList = S['CustomerList']
export type CustomerFull = S['CustomerFull']
export type ProfileChange = Omit<S['ProfileChange'], 'attributes'> & { attributes?: Record<string, unknown> }
export type CustomerAttribute = S['CustomerAttribute']
export type MergePreview = S['MergePreview']
export type Tag = S['Tag']
export type TagGroup = S['TagGroup']
export type TagRule = S['TagRule']
export type CustomerTagChange = S['CustomerTagChange']
export type CustomerTagHistory = S['CustomerTagHistory']
export type Job = S['Job']
export type Segment = S['Segment']
export type SegmentCustomer = S['SegmentCustomer']
export type SegmentCustomerPage = S['SegmentCustomerPage']
export type ApiFilter = S['Filter']
export type TierSettings = S['TierSettingsView']
export type TierSettingsPut = S['TierSettingsPut']
export type JobKind = 'tag' | 'untag' | 'set_owner_agent'
export type Selection = { customer_ids: string[] } | { segment_id: string } | { all: true }
export type SegmentSort = 'newest' | 'spend' | 'last_contact'

const enc = encodeURIComponent

export function customersApiFor(client: ApiClient) {
  const cus = (id: string): string => `/v1/customers/${enc(id)}`
  return {
    // -- customers
    list: (query: { q?: string; cursor?: string | null; limit?: number }) => client.get<CustomerList>('/v1/customers', query),
    get: (id: string, reveal = false) => client.get<CustomerFull>(cus(id), reveal ? { reveal: true } : {}),
    update: (id: string, change: ProfileChange) => client.patch<CustomerFull>(cus(id), change),
    mergePreview: (id: string, mergeId: string) => client.post<MergePreview>(`${cus(id)}/merge/preview`, { merge_id: mergeId }),
    merge: (id: string, mergeId: string) => client.post<CustomerFull>(`${cus(id)}/merge`, { merge_id: mergeId }),
    exportOne: (id: string) => client.get<Record<string, unknown>>(`${cus(id)}/export`),
    erase: (id: string) => client.post<{ customer_id: string; erased_at: number }>(`${cus(id)}/erase`),
    addTags: (id: string, tagIds: string[]) => client.post<CustomerTagChange>(`${cus(id)}/tags`, { tag_ids: tagIds }),
    removeTag: (id: string, tagId: string) => client.request<CustomerTagChange>('DELETE', `${cus(id)}/tags/${enc(tagId)}`),
    tagHistory: (id: string, cursor?: string | null) => client.get<CustomerTagHistory>(`${cus(id)}/tags/history`, { cursor }),

    // -- custom attributes
    attributes: () => client.get<S['CustomerAttributeList']>('/v1/customer-attributes'),
    createAttribute: (body: S['NewAttribute']) => client.post<CustomerAttribute>('/v1/customer-attributes', body),
    updateAttribute: (id: string, body: S['AttributeChange']) => client.patch<CustomerAttribute>(`/v1/customer-attributes/${enc(id)}`, body),
    deleteAttribute: (id: string) => client.request<unknown>('DELETE', `/v1/customer-attributes/${enc(id)}`),

    // -- tag catalogue and auto-tag rules
    tagGroups: () => client.get<S['TagGroupList']>('/v1/tag-groups'),
    createTagGroup: (body: S['NewTagGroup']) => client.post<TagGroup>('/v1/tag-groups', body),
    updateTagGroup: (id: string, body: S['TagGroupEdit']) => client.patch<TagGroup>(`/v1/tag-groups/${enc(id)}`, body),
    deleteTagGroup: (id: string) => client.request<unknown>('DELETE', `/v1/tag-groups/${enc(id)}`),
    tags: () => client.get<S['TagList']>('/v1/tags'),
    tag: (id: string) => client.get<S['TagWithUsage']>(`/v1/tags/${enc(id)}`),
    createTag: (body: S['NewTag']) => client.post<Tag>('/v1/tags', body),
    updateTag: (id: string, body: S['TagEdit']) => client.patch<Tag>(`/v1/tags/${enc(id)}`, body),
    deleteTag: (id: string) => client.request<unknown>('DELETE', `/v1/tags/${enc(id)}`),
    tagRules: () => client.get<S['TagRuleList']>('/v1/tag-rules'),
    createTagRule: (body: S['NewAutoTagRule']) => client.post<TagRule>('/v1/tag-rules', body),
    updateTagRule: (id: string, body: S['AutoTagRuleEdit']) => client.patch<TagRule>(`/v1/tag-rules/${enc(id)}`, body),
    deleteTagRule: (id: string) => client.request<unknown>('DELETE', `/v1/tag-rules/${enc(id)}`),

    // -- bulk jobs
    submitJob: (kind: JobKind, selection: Selection, params: Record<string, unknown>) =>
      client.post<Job>('/v1/jobs', { kind, selection, params }),
    job: (id: string) => client.get<Job>(`/v1/jobs/${enc(id)}`),

    // -- segments
    preview: (filter: ApiFilter, sort: SegmentSort = 'newest', limit = 20) =>
      client.post<SegmentCustomerPage>('/v1/segments/preview', sort === 'newest' ? { filter, limit } : { filter, sort, limit }),
    segments: () => client.get<S['SegmentList']>('/v1/segments'),
    createSegment: (body: { name: string; filter: ApiFilter; description?: string | null }) => client.post<Segment>('/v1/segments', body),
    updateSegment: (id: string, body: { name?: string; filter?: ApiFilter; description?: string | null }) =>
      client.patch<Segment>(`/v1/segments/${enc(id)}`, body),
    deleteSegment: (id: string) => client.request<unknown>('DELETE', `/v1/segments/${enc(id)}`),
    refreshSegment: (id: string) => client.post<Segment>(`/v1/segments/${enc(id)}/refresh`),

    // -- tiers
    tierSettings: () => client.get<TierSettings>('/v1/tier-settings'),
    putTierSettings: (body: TierSettingsPut) => client.put<TierSettings>('/v1/tier-settings', body),
  }
}

export type CustomersApi = ReturnType<typeof customersApiFor>

let cached: { client: ApiClient; api: CustomersApi } | null = null

export function customersApi(): CustomersApi {
  const client = apiClient()
  if (!cached || cached.client !== client) cached = { client, api: customersApiFor(client) }
  return cached.api
}
