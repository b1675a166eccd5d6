import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  fromApiFilter, measure, newCondition, newGroup, quickFilter, removeNode, toApiFilter,
  type RangeCondition, type SetCondition, type TimeCondition, type AttributeCondition,
} from '@/components/customers/filterTree'
import { debouncedLatest } from '@/components/customers/debounced'

const tag = (...values: string[]): SetCondition => ({ ...(newCondition('tag') as SetCondition), values })

describe('segment builder: filter tree → API filter JSON', () => {
  it('an empty tree, or one with only incomplete conditions, is no filter', () => {
    expect(toApiFilter(newGroup())).toBeNull()
    expect(toApiFilter(newGroup('and', [newCondition('tag'), newCondition('spend'), newCondition('attribute')]))).toBeNull()
  })

  it('a group of one condition is the condition itself (kept shallow)', () => {
    expect(toApiFilter(newGroup('or', [tag('tag_vip')]))).toEqual({ tag: { in: ['tag_vip'] } })
  })

  it('nests AND / OR / NOT groups, each node with exactly one key', () => {
    const spend = newCondition('spend') as RangeCondition
    spend.min = 1000 // yuan
    const contact = newCondition('last_contact') as TimeCondition
    contact.days = 30
    const region = newCondition('region') as SetCondition
    region.values = ['广东省']
    region.negate = true
    const inner = newGroup('or', [tag('tag_a'), { ...tag('tag_b', 'tag_c'), match: 'all' }])
    inner.negate = true
    const root = newGroup('and', [spend, contact, region, inner])
    expect(toApiFilter(root)).toEqual({
      and: [
        { spend: { gte: 100000 } },
        { last_contact: { within_days: 30 } },
        { not: { region: { in: ['广东省'] } } },
        { not: { or: [{ tag: { in: ['tag_a'] } }, { tag: { all: ['tag_b', 'tag_c'] } }] } },
      ],
    })
  })

  it('spend is typed in yuan and sent in cents; order counts as they are', () => {
    const spend = newCondition('spend') as RangeCondition
    spend.min = 99.5
    spend.max = 200
    const orders = newCondition('orders_count') as RangeCondition
    orders.max = 3
    expect(toApiFilter(spend)).toEqual({ spend: { gte: 9950, lte: 20000 } })
    expect(toApiFilter(orders)).toEqual({ orders_count: { lte: 3 } })
  })

  it('custom attribute and "more than N days" conditions', () => {
    const attr = newCondition('attribute') as AttributeCondition
    attr.attributeId = 'vip_since'
    attr.values = ['2024', true]
    const purchase = newCondition('last_purchase') as TimeCondition
    purchase.mode = 'more_than_days'
    purchase.days = 90
    expect(toApiFilter(newGroup('and', [attr, purchase]))).toEqual({
      and: [{ attribute: { id: 'vip_since', in: ['2024', true] } }, { last_purchase: { more_than_days: 90 } }],
    })
  })

  it('removes a node anywhere in the tree, never the root', () => {
    const deep = tag('x')
    const inner = newGroup('or', [deep, tag('y')])
    const root = newGroup('and', [tag('z'), inner])
    expect(removeNode(root, deep.id)).toBe(true)
    expect(toApiFilter(root)).toEqual({ and: [{ tag: { in: ['z'] } }, { tag: { in: ['y'] } }] })
    expect(removeNode(root, root.id)).toBe(false)
    expect(removeNode(root, 'nope')).toBe(false)
  })

  it('a saved filter opens for editing and gives back the same JSON', () => {
    const saved = {
      and: [
        { tag: { in: ['tag_vip'] } },
        { spend: { gte: 100000 } },
        { last_contact: { within_days: 30 } },
        { not: { region: { in: ['广东省'] } } },
        { or: [{ tier: { in: ['gold'] } }, { not: { and: [{ channel: { all: ['h5'] } }, { orders_count: { lte: 2 } }] } }] },
      ],
    }
    const tree = fromApiFilter(saved)
    expect(toApiFilter(tree)).toEqual(saved)
    expect(measure(tree)).toEqual({ depth: 4, conditions: 7 })
  })

  it('a saved single condition opens inside a root group', () => {
    const tree = fromApiFilter({ not: { tag: { in: ['t'] } } })
    expect(tree.kind).toBe('group')
    expect(tree.children).toHaveLength(1)
    expect(toApiFilter(tree)).toEqual({ not: { tag: { in: ['t'] } } })
    expect(fromApiFilter(null).children).toEqual([])
  })

  it('refuses a node with two keys', () => {
    expect(() => fromApiFilter({ tag: { in: ['a'] }, tier: { in: ['b'] } })).toThrow(/invalid_filter/)
  })

  it('the list quick filters AND together', () => {
    expect(quickFilter({ tags: [], tiers: [], stages: [] })).toBeNull()
    expect(quickFilter({ tags: ['t'], tiers: [], stages: [] })).toEqual({ tag: { in: ['t'] } })
    expect(quickFilter({ tags: ['t'], tiers: ['gold'], stages: ['repeat'] })).toEqual({
      and: [{ tag: { in: ['t'] } }, { tier: { in: ['gold'] } }, { lifecycle_stage: { in: ['repeat'] } }],
    })
  })
})

describe('debounced live preview', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('calls once, after the last change has rested', async () => {
    const run = vi.fn(async (n: number) => n * 10)
    const results: number[] = []
    const runner = debouncedLatest(run, (r) => results.push(r), () => undefined, 400)
    runner.schedule(1)
    vi.advanceTimersByTime(300)
    runner.schedule(2)
    vi.advanceTimersByTime(300)
    runner.schedule(3)
    expect(run).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(400)
    expect(run).toHaveBeenCalledTimes(1)
    expect(run).toHaveBeenCalledWith(3)
    expect(results).toEqual([30])
  })

  it('drops an answer overtaken by a newer request', async () => {
    const resolvers: ((v: string) => void)[] = []
    const run = vi.fn(() => new Promise<string>((resolve) => resolvers.push(resolve)))
    const results: string[] = []
    const runner = debouncedLatest(run, (r) => results.push(r), () => undefined, 100)
    runner.schedule('old')
    runner.flush()
    runner.schedule('new')
    runner.flush()
    resolvers[1]?.('new answer')
    resolvers[0]?.('old answer')
    await vi.runAllTimersAsync()
    expect(results).toEqual(['new answer'])
  })

  it('reports errors of the latest request and nothing after cancel', async () => {
    const errors: unknown[] = []
    const run = vi.fn(async () => { throw new Error('filter_too_deep') })
    const runner = debouncedLatest(run, () => undefined, (e) => errors.push(e), 50)
    runner.schedule(null)
    await vi.advanceTimersByTimeAsync(50)
    expect((errors[0] as Error).message).toBe('filter_too_deep')
    runner.schedule(null)
    runner.cancel()
    await vi.advanceTimersByTimeAsync(100)
    expect(run).toHaveBeenCalledTimes(1)
  })
})
