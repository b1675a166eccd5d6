// The knowledge base and bot screens' logic, kept out of the components so it is unit-tested
// (tests/bot.test.ts): reply-message forms, entry changes, the publish poll, the try box.
import type {
  BotApi, BotSettings, BotSettingsView, KbEntry, KbHead, KbReplyMessage, NewKbEntry, TierSettingsView,
} from '@/api/bot'

/** One reply message as the editor holds it (every field present, so v-model binds). */
export interface ReplyForm {
  type: 'text' | 'image' | 'miniprogrampage'
  content: string
  url: string
  media_id: string
  title: string
  pagepath: string
  thumb_media_id: string
}

export const MAX_REPLIES = 5

export function emptyReply(type: ReplyForm['type'] = 'text'): ReplyForm {
  return { type, content: '', url: '', media_id: '', title: '', pagepath: '', thumb_media_id: '' }
}

export function replyForm(message: KbReplyMessage): ReplyForm {
  const str = (k: string): string => (typeof message[k] === 'string' ? (message[k] as string) : '')
  return { ...emptyReply(message.type), content: str('content'), url: str('url'), media_id: str('media_id'), title: str('title'), pagepath: str('pagepath'), thumb_media_id: str('thumb_media_id') }
}

/** The API's reply messages (NewKbEntry.answer, NewKeywordRule.replies) from the editor's forms;
 * blank messages are left out, an image keeps the one reference given. */
export function replyMessages(forms: ReplyForm[]): NewKbEntry['answer'] {
  const out: NewKbEntry['answer'] = []
  for (const f of forms) {
    if (f.type === 'text' && f.content.trim()) out.push({ type: 'text', content: f.content.trim() })
    else if (f.type === 'image' && (f.url.trim() || f.media_id.trim())) {
      out.push(f.media_id.trim() ? { type: 'image', media_id: f.media_id.trim() } : { type: 'image', url: f.url.trim() })
    } else if (f.type === 'miniprogrampage' && f.title.trim() && f.pagepath.trim()) {
      out.push({ type: 'miniprogrampage', title: f.title.trim(), pagepath: f.pagepath.trim(), thumb_media_id: f.thumb_media_id.trim() })
    }
  }
  return out
}

/** Similar questions typed one per line: trimmed, blanks and repeats (and the standard question
 * itself) dropped — as the API would, so the editor shows what will be stored. */
export function similarLines(text: string, standard = ''): string[] {
  const seen = new Set([standard.trim()])
  const out: string[] = []
  for (const line of text.split(/\r?\n/)) {
    const q = line.trim()
    if (q && !seen.has(q)) {
      seen.add(q)
      out.push(q)
    }
  }
  return out
}

export interface EntryForm {
  question: string
  similar: string
  answer: ReplyForm[]
  category: string
  tags: string[]
  enabled: boolean
}

export function entryForm(entry?: KbEntry): EntryForm {
  if (!entry) return { question: '', similar: '', answer: [emptyReply()], category: '', tags: [], enabled: true }
  return {
    question: entry.question,
    similar: entry.similar_questions.join('\n'),
    answer: entry.answer.length ? entry.answer.map(replyForm) : [emptyReply()],
    category: entry.category ?? '',
    tags: [...entry.tags],
    enabled: entry.enabled,
  }
}

export function newEntryBody(form: EntryForm): NewKbEntry {
  return {
    question: form.question.trim(),
    similar_questions: similarLines(form.similar, form.question),
    answer: replyMessages(form.answer),
    category: form.category.trim() || null,
    tags: form.tags,
    enabled: form.enabled,
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** PATCH body: the entry's revision and only the fields the form changed (null when none did,
 * since the API refuses an empty change). */
export function entryChange(entry: KbEntry, form: EntryForm): (Partial<NewKbEntry> & { revision: number }) | null {
  const next = newEntryBody(form)
  const before = newEntryBody(entryForm(entry))
  const change: Partial<NewKbEntry> = {}
  for (const key of ['question', 'similar_questions', 'answer', 'category', 'tags', 'enabled'] as const) {
    if (!same(next[key], before[key])) Object.assign(change, { [key]: next[key] })
  }
  return Object.keys(change).length ? { revision: entry.revision, ...change } : null
}

export type PublishOutcome = { state: 'published'; head: KbHead } | { state: 'failed'; head: KbHead; message: string } | { state: 'timeout'; head: KbHead }

/** The publisher is asynchronous: poll GET /v1/knowledge until `publishing` is false, then the
 * published version has moved (or `publish_error` says why not). */
export async function pollPublish(
  fetchHead: () => Promise<KbHead>,
  opts: { intervalMs?: number; timeoutMs?: number; onTick?: (head: KbHead) => void; sleep?: (ms: number) => Promise<void> } = {},
): Promise<PublishOutcome> {
  const interval = opts.intervalMs ?? 1000
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000)
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  for (;;) {
    const head = await fetchHead()
    opts.onTick?.(head)
    if (!head.publishing) {
      if (head.publish_error) return { state: 'failed', head, message: head.publish_error.message }
      return { state: 'published', head }
    }
    if (Date.now() >= deadline) return { state: 'timeout', head }
    await sleep(interval)
  }
}

/** The PUT body from the settings as shown (view-only fields dropped). */
export function settingsBody(view: BotSettingsView): BotSettings {
  return {
    enabled: view.enabled,
    greeting: view.greeting?.trim() || null,
    answer_threshold: view.answer_threshold ?? null,
    suggest_threshold: view.suggest_threshold ?? null,
    max_misses: view.max_misses,
    handoff_phrases: view.handoff_phrases,
    anger_words: view.anger_words,
    vip_tiers: view.vip_tiers,
    low_confidence: view.low_confidence,
    fallback_text: view.fallback_text,
    handoff_text: view.handoff_text,
    off_hours_text: view.off_hours_text,
    recorded_text: view.recorded_text,
  }
}

/** Thresholds must leave room to suggest below answering (the API's `invalid_thresholds`). */
export function thresholdsValid(view: BotSettingsView): boolean {
  const answer = view.answer_threshold ?? view.default_thresholds.answer
  const suggest = view.suggest_threshold ?? view.default_thresholds.suggest
  return suggest <= answer
}

export function tierOptions(tiers: TierSettingsView | null): { id: string; name: string }[] {
  return (tiers?.tiers ?? []).map((t) => ({ id: t.tier_id, name: t.name }))
}

export interface TryAnswer {
  source: 'keyword_rule' | 'knowledge' | 'none'
  outcome: 'answer' | 'suggest' | 'none'
  texts: string[]
  rule?: string
  candidates: { question: string; score: number }[]
}

/** What a message sent as `text` would get, in the order a bot turn tries: a keyword rule
 * first (POST /v1/bot/keyword-rules/test), then the published knowledge base. */
export async function tryBot(api: Pick<BotApi, 'tryRules' | 'tryKnowledge'>, text: string): Promise<TryAnswer> {
  const rule = await api.tryRules(text)
  if (rule.matched) {
    return { source: 'keyword_rule', outcome: 'answer', texts: rule.replies.map(messageText), rule: rule.rule?.name, candidates: [] }
  }
  const kb = await api.tryKnowledge(text)
  return {
    source: kb.outcome === 'none' ? 'none' : 'knowledge',
    outcome: kb.outcome,
    texts: kb.replies.map((m) => messageText(m as { type: string; content: Record<string, unknown> })),
    candidates: kb.candidates.map((c) => ({ question: c.question, score: c.score })),
  }
}

/** A rendered outbound message as one line of text (images and cards by their label). */
export function messageText(m: { type: string; content: Record<string, unknown> }): string {
  if (m.type === 'text') return String(m.content.text ?? '')
  if (m.type === 'image') return `[image] ${String(m.content.url ?? m.content.media_id ?? '')}`
  return `[${m.type}] ${String(m.content.title ?? '')}`
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = ''
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(bin)
}

/** The import's format from the file's name (the API reads CSV or XLSX). */
export function importFormat(name: string): 'csv' | 'xlsx' | null {
  const ext = name.toLowerCase().split('.').pop()
  return ext === 'csv' ? 'csv' : ext === 'xlsx' ? 'xlsx' : null
}
