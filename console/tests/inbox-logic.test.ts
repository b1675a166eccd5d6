import { describe, expect, it } from 'vitest'
import type { ListedConversation } from '@/api/types'
import { applyFilters, facets, neighbour } from '@/stores/inbox'
import { filterQuickReplies, previewText, slashQuery } from '@/lib/quickReply'
import { shortcutFor } from '@/lib/shortcuts'
import { parseConfig } from '@/config'
import { backoffMs, socketUrl } from '@/lib/realtime'

const conv = (id: string, queue: string, channel: ListedConversation['channel'], tier = 'regular', tags: string[] = []): ListedConversation =>
  ({ conversation_id: id, shop_id: 's', customer_id: 'c', channel, status: 'queued', queue, customer: { display_name: null, tier, tags } }) as ListedConversation
const none = { queue: '', channel: '', tier: '', tag: '' }

describe('inbox logic', () => {
  it('filters by queue, channel, tier and tag', () => {
    const list = [conv('a', 'default', 'h5'), conv('b', 'vip', 'h5', 'vip', ['老客户']), conv('c', 'vip', 'wechat_miniprogram', 'vip')]
    expect(applyFilters(list, { ...none, queue: 'vip' }).map((c) => c.conversation_id)).toEqual(['b', 'c'])
    expect(applyFilters(list, { ...none, queue: 'vip', channel: 'h5' }).map((c) => c.conversation_id)).toEqual(['b'])
    expect(applyFilters(list, { ...none, tier: 'vip' }).map((c) => c.conversation_id)).toEqual(['b', 'c'])
    expect(applyFilters(list, { ...none, tag: '老客户' }).map((c) => c.conversation_id)).toEqual(['b'])
    expect(applyFilters(list, none)).toHaveLength(3)
  })

  it('offers the tiers and tags of the loaded conversations as filter choices', () => {
    const list = [conv('a', 'q', 'h5', 'vip', ['b', 'a']), conv('b', 'q', 'h5', 'new', ['a'])]
    expect(facets(list)).toEqual({ tiers: ['new', 'vip'], tags: ['a', 'b'] })
  })

  it('moves to the next and previous conversation, wrapping around', () => {
    expect(neighbour(['a', 'b', 'c'], 'b', 1)).toBe('c')
    expect(neighbour(['a', 'b', 'c'], 'c', 1)).toBe('a')
    expect(neighbour(['a', 'b', 'c'], 'a', -1)).toBe('c')
    expect(neighbour(['a', 'b'], null, 1)).toBe('a')
    expect(neighbour([], 'a', 1)).toBeNull()
  })
})

describe('quick replies', () => {
  const replies = [
    { quick_reply_id: '1', title: '物流查询', text: '您的订单 {order_status}，运单号 {tracking_number}', use_count: 5 },
    { quick_reply_id: '2', title: '问候', text: '{customer_name|亲}，您好！查物流请稍等', use_count: 9 },
  ]

  it('opens on a leading slash and reads the query after it', () => {
    expect(slashQuery('/物流')).toBe('物流')
    expect(slashQuery('/')).toBe('')
    expect(slashQuery('hello /x')).toBeNull()
    expect(slashQuery('/a\nb')).toBeNull()
  })

  it('puts title matches before text matches', () => {
    expect(filterQuickReplies(replies, '物流').map((r) => r.quick_reply_id)).toEqual(['1', '2'])
    expect(filterQuickReplies(replies, '').map((r) => r.quick_reply_id)).toEqual(['1', '2'])
    expect(filterQuickReplies(replies, 'zzz')).toEqual([])
  })

  it('fills variables for the preview, with defaults, leaving unknown ones as written', () => {
    expect(previewText(replies[1]!.text, { customer_name: '小红' })).toBe('小红，您好！查物流请稍等')
    expect(previewText(replies[1]!.text, {})).toBe('亲，您好！查物流请稍等')
    expect(previewText(replies[0]!.text, { order_status: '已发货' })).toBe('您的订单 已发货，运单号 {tracking_number}')
  })
})

describe('shortcuts', () => {
  const key = (init: KeyboardEventInit): KeyboardEvent => new KeyboardEvent('keydown', init)
  it('maps the busiest actions', () => {
    expect(shortcutFor(key({ key: 'ArrowDown', altKey: true }))).toBe('next')
    expect(shortcutFor(key({ code: 'KeyT', key: 't', altKey: true }))).toBe('transfer')
    expect(shortcutFor(key({ code: 'KeyR', key: 'r', altKey: true }))).toBe('resolve')
    expect(shortcutFor(key({ key: '/' }))).toBe('quickReply')
    expect(shortcutFor(key({ key: 'a' }))).toBeNull()
  })
})

describe('config.json and the socket', () => {
  it('reads the deployment settings and refuses a broken file', () => {
    expect(parseConfig({ apiBaseUrl: 'https://api.example/', webSocketUrl: 'wss://ws' })).toMatchObject({ apiBaseUrl: 'https://api.example', webSocketUrl: 'wss://ws' })
    expect(() => parseConfig({ webSocketUrl: 'x' })).toThrow(/apiBaseUrl/)
    expect(() => parseConfig({ apiBaseUrl: 1, webSocketUrl: 'x' })).toThrow(/string/)
  })

  it('puts the token in the socket URL and backs off up to 30 s', () => {
    expect(socketUrl('ws://127.0.0.1:3001/local', 'a.b.c', 'demo')).toBe('ws://127.0.0.1:3001/local?token=a.b.c&shop_id=demo')
    expect([0, 1, 2, 10].map(backoffMs)).toEqual([1000, 2000, 4000, 30000])
  })
})
