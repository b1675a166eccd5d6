import { describe, expect, it } from 'vitest'
import type { BotSettingsView, KbEntry, KbHead } from '@/api/bot'
import {
  bytesToBase64, base64ToBytes, emptyReply, entryChange, entryForm, importFormat, newEntryBody,
  pollPublish, replyMessages, settingsBody, similarLines, thresholdsValid, tryBot,
} from '@/lib/bot'

const entry = (over: Partial<KbEntry> = {}): KbEntry => ({
  entry_id: 'kb_1', scope: 'shop-a', question: '怎么退货？', similar_questions: ['如何退货'],
  answer: [{ type: 'text', content: '七天无理由' }], category: '售后', tags: ['退货'], enabled: true,
  valid_from: null, valid_until: null, state: 'active', revision: 3, created_at: 1, created_by: 'a',
  updated_at: 1, updated_by: 'a', deleted_at: null, hits: 0, helpful: 0, unhelpful: 0, last_hit_at: null, ...over,
})

const head = (over: Partial<KbHead> = {}): KbHead => ({
  scope: 'shop-a', draft_revision: 2, entry_total: 1, published_version: 0, published_at: null,
  published_by: null, published_entry_count: 0, index_key: null, unpublished_changes: true,
  dictionary_size: 0, updated_at: null, publishing: true, publish_requested: null, publish_error: null, ...over,
})

describe('similar questions', () => {
  it('are one a line, trimmed, without blanks, repeats or the standard question', () => {
    expect(similarLines(' 如何退货 \n\n能退吗\n如何退货\n怎么退货？', '怎么退货？')).toEqual(['如何退货', '能退吗'])
  })
})

describe('reply messages', () => {
  it('leave out blank messages and keep the image reference given', () => {
    const forms = [
      { ...emptyReply(), content: ' 您好 ' },
      emptyReply(),
      { ...emptyReply('image'), url: 'https://cdn.example.com/a.png' },
      { ...emptyReply('miniprogrampage'), title: '售后', pagepath: 'pages/a', thumb_media_id: 'M1' },
      { ...emptyReply('miniprogrampage'), title: '无路径' },
    ]
    expect(replyMessages(forms)).toEqual([
      { type: 'text', content: '您好' },
      { type: 'image', url: 'https://cdn.example.com/a.png' },
      { type: 'miniprogrampage', title: '售后', pagepath: 'pages/a', thumb_media_id: 'M1' },
    ])
  })
})

describe('entry changes', () => {
  it('send only the changed fields with the revision they are based on', () => {
    const form = entryForm(entry())
    form.similar = '如何退货\n能退吗'
    form.category = ''
    expect(entryChange(entry(), form)).toEqual({ revision: 3, similar_questions: ['如何退货', '能退吗'], category: null })
  })
  it('are nothing when nothing changed (the API refuses an empty change)', () => {
    expect(entryChange(entry(), entryForm(entry()))).toBeNull()
  })
  it('a new entry starts with one empty text message and is enabled', () => {
    const form = entryForm()
    form.question = ' 发票怎么开 '
    form.answer[0]!.content = '订单页申请'
    expect(newEntryBody(form)).toEqual({
      question: '发票怎么开', similar_questions: [], answer: [{ type: 'text', content: '订单页申请' }],
      category: null, tags: [], enabled: true,
    })
  })
})

describe('the publish poll', () => {
  const noSleep = async (): Promise<void> => {}
  it('polls until the publisher is done, then reports the new version', async () => {
    const heads = [head(), head(), head({ publishing: false, published_version: 1 })]
    const seen: boolean[] = []
    const out = await pollPublish(async () => heads.shift()!, { sleep: noSleep, onTick: (h) => seen.push(h.publishing) })
    expect(out.state).toBe('published')
    expect(out.head.published_version).toBe(1)
    expect(seen).toEqual([true, true, false])
  })
  it('reports why a publish failed', async () => {
    const failed = head({ publishing: false, publish_error: { message: 'nothing to publish', at: 1, draft_revision: 2 } })
    expect(await pollPublish(async () => failed, { sleep: noSleep })).toEqual({ state: 'failed', head: failed, message: 'nothing to publish' })
  })
  it('gives up after the timeout', async () => {
    expect((await pollPublish(async () => head(), { sleep: noSleep, timeoutMs: 0 })).state).toBe('timeout')
  })
})

describe('bot settings', () => {
  const view: BotSettingsView = {
    enabled: true, greeting: '  ', answer_threshold: null, suggest_threshold: 0.7,
    default_thresholds: { answer: 0.55, suggest: 0.3 }, max_misses: 2, handoff_phrases: ['转人工'],
    anger_words: ['投诉'], vip_tiers: ['high_value'], low_confidence: 'handoff', fallback_text: 'a',
    handoff_text: 'b', off_hours_text: 'c', recorded_text: 'd', revision: 4, updated_at: 1, updated_by: 'x',
  }
  it('are put without the view-only fields, a blank greeting as none', () => {
    const body = settingsBody(view)
    expect(body).not.toHaveProperty('revision')
    expect(body).not.toHaveProperty('default_thresholds')
    expect(body.greeting).toBeNull()
    expect(body.vip_tiers).toEqual(['high_value'])
  })
  it('need the suggest threshold at or below the answer threshold (defaults included)', () => {
    expect(thresholdsValid(view)).toBe(false)
    expect(thresholdsValid({ ...view, answer_threshold: 0.8 })).toBe(true)
  })
})

describe('try the bot', () => {
  it('answers from a keyword rule first, without asking the knowledge base', async () => {
    let askedKb = false
    const out = await tryBot({
      tryRules: async () => ({ matched: true, rule: { name: '发货' } as never, draft: false, keyword: '发货', match_mode: 'contains', replies: [{ type: 'text', content: { text: '48 小时内发货' } }], revision: 1, at: 1 }),
      tryKnowledge: async () => { askedKb = true; throw new Error('not asked') },
    }, '什么时候发货')
    expect(out).toMatchObject({ source: 'keyword_rule', rule: '发货', texts: ['48 小时内发货'] })
    expect(askedKb).toBe(false)
  })
  it('then the published knowledge base', async () => {
    const out = await tryBot({
      tryRules: async () => ({ matched: false, rule: null, draft: false, keyword: null, match_mode: null, replies: [], revision: 1, at: 1 }),
      tryKnowledge: async () => ({ outcome: 'answer', replies: [{ type: 'text', content: { text: '七天无理由' } }], candidates: [{ entry_id: 'kb_1', scope: 'shop', question: '怎么退货？', score: 0.9 }], thresholds: { answer: 0.55, suggest: 0.3 }, published_versions: { shop: 1 } }),
    }, '如何退货')
    expect(out).toEqual({ source: 'knowledge', outcome: 'answer', texts: ['七天无理由'], candidates: [{ question: '怎么退货？', score: 0.9 }] })
  })
})

describe('import and export files', () => {
  it('round-trip bytes through base64 (UTF-8 with its BOM intact)', () => {
    const bytes = new TextEncoder().encode('\uFEFFquestion,answer\n怎么退货？,七天\n')
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes)
  })
  it('take the format from the file name', () => {
    expect([importFormat('kb.CSV'), importFormat('a.xlsx'), importFormat('a.xls')]).toEqual(['csv', 'xlsx', null])
  })
})
