// The knowledge base and bot endpoints the console's 知识库与机器人 screens call, typed against
// docs/openapi.yaml (docs/knowledge-base.md, bot.md, keyword-rules.md, bot-learning.md).
import type { ApiClient } from './client'
import type { components } from './schema'

type S = components['schemas']
export type KbEntry = S['KbEntry']
export type KbEntryList = S['KbEntryList']
export type KbReplyMessage = S['KbReplyMessage']
export type KbHead = S['KbHead']
export type KbVersion = S['KbVersion']
export type KbPublish = S['KbPublish']
export type KbImportResult = S['KbImportResult']
export type KbExport = S['KbExport']
export type KbTrialResult = S['KbTrialResult']
export type NewKbEntry = S['NewKbEntry']
export type KeywordRule = S['KeywordRule']
export type NewKeywordRule = S['NewKeywordRule']
export type KeywordRuleTestResult = S['KeywordRuleTestResult']
export type BotSettingsView = S['BotSettingsView']
export type BotSettings = S['BotSettings']
export type BotSuggestion = S['BotSuggestion']
export type BotSuggestionList = S['BotSuggestionList']
export type TierSettingsView = S['TierSettingsView']
export type Channel = NonNullable<NewKeywordRule['channels']>[number]

const enc = encodeURIComponent
const entry = (id: string): string => `/v1/knowledge/entries/${enc(id)}`

export function botApi(client: ApiClient) {
  return {
    // -- knowledge base
    head: () => client.get<KbHead>('/v1/knowledge'),
    entries: (query: { q?: string; category?: string; enabled?: string; cursor?: string | null; limit?: number }) =>
      client.get<KbEntryList>('/v1/knowledge/entries', query),
    entry: (id: string) => client.get<KbEntry>(entry(id)),
    createEntry: (body: NewKbEntry) => client.post<KbEntry>('/v1/knowledge/entries', body),
    updateEntry: (id: string, body: Partial<NewKbEntry> & { revision: number }) => client.patch<KbEntry>(entry(id), body),
    deleteEntry: (id: string, revision: number) =>
      client.request<{ entry_id: string }>('DELETE', entry(id), { query: { revision } }),
    versions: (id: string) => client.get<{ versions: KbVersion[]; next_cursor: string | null }>(`${entry(id)}/versions`, { limit: 50 }),
    restoreVersion: (id: string, version: number, revision: number) =>
      client.post<KbEntry>(`${entry(id)}/versions/${version}/restore`, { revision }),
    publish: () => client.post<S['KbPublishRequest']>('/v1/knowledge/publish'),
    publishes: () => client.get<{ publishes: KbPublish[]; next_cursor: string | null }>('/v1/knowledge/publishes', { limit: 20 }),
    restorePublish: (version: number) => client.post<S['KbPublishResult']>(`/v1/knowledge/publishes/${version}/restore`),
    importFile: (format: 'csv' | 'xlsx', content_base64: string) =>
      client.post<KbImportResult>('/v1/knowledge/import', { format, content_base64 }),
    exportFile: (format: 'csv' | 'xlsx') => client.get<KbExport>('/v1/knowledge/export', { format }),
    tryKnowledge: (text: string) => client.post<KbTrialResult>('/v1/knowledge/try', { text }),

    // -- keyword rules
    rules: () => client.get<S['KeywordRuleList']>('/v1/bot/keyword-rules', { limit: 100 }),
    createRule: (body: NewKeywordRule) => client.post<KeywordRule>('/v1/bot/keyword-rules', body),
    updateRule: (id: string, body: Partial<NewKeywordRule>) => client.patch<KeywordRule>(`/v1/bot/keyword-rules/${enc(id)}`, body),
    deleteRule: (id: string) => client.request<unknown>('DELETE', `/v1/bot/keyword-rules/${enc(id)}`),
    tryRules: (text: string, draft?: { rule: NewKeywordRule; replaces?: string | null }) =>
      client.post<KeywordRuleTestResult>('/v1/bot/keyword-rules/test', { text, ...(draft ?? {}) }),

    // -- settings, tiers, learning
    settings: () => client.get<BotSettingsView>('/v1/bot/settings'),
    putSettings: (body: BotSettings) => client.put<BotSettingsView>('/v1/bot/settings', body),
    tiers: () => client.get<TierSettingsView>('/v1/tier-settings'),
    suggestions: (days = 30) => client.get<BotSuggestionList>('/v1/bot/suggestions', { days, limit: 50 }),
    accept: (key: string, body: S['AcceptSuggestion'], days = 30) =>
      client.post<S['BotSuggestionAccepted']>(`/v1/bot/suggestions/${enc(key)}/accept`, body, { days }),
    dismiss: (key: string, days = 30) => client.post<S['BotSuggestionDecision']>(`/v1/bot/suggestions/${enc(key)}/dismiss`, {}, { days }),
  }
}

export type BotApi = ReturnType<typeof botApi>
