import { describe, expect, it } from 'vitest'
import { emptyRow, move, ruleFromRow, ruleRow, rulesBody } from '@/lib/routingRules'

describe('routing rule editor → API JSON', () => {
  it('round-trips a rule, keeping the conditions the editor has no field for', () => {
    const rule = {
      rule_id: 'logistics', name: '物流', queue: 'logistics', priority: 2, enabled: true,
      conditions: { keywords: ['快递', '物流'], categories: ['生鲜'], hours: { weekdays: [1, 2, 3, 4, 5], ranges: ['09:00-18:00'], outside: false } },
    }
    expect(ruleFromRow(ruleRow(rule))).toEqual(rule)
  })

  it('turns typed lists into arrays and leaves empty conditions out', () => {
    const row = emptyRow('vip', ['rule-1'])
    row.keywords = '退款， 退货,退款'
    row.tiers = 'vip'
    row.weekdays = [7, 6]
    row.ranges = '21:00-24:00'
    row.outside = true
    expect(ruleFromRow(row)).toEqual({
      rule_id: 'rule-2', queue: 'vip', priority: 0, enabled: true,
      conditions: { keywords: ['退款', '退货'], tiers: ['vip'], hours: { weekdays: [6, 7], ranges: ['21:00-24:00'], outside: true } },
    })
    row.keywords = ''
    row.weekdays = []
    row.ranges = ''
    expect(ruleFromRow(row).conditions).toEqual({ tiers: ['vip'] })
  })

  it('sends the rules in the order shown, with the version read', () => {
    const rows = ['a', 'b', 'c'].map((id) => ruleRow({ rule_id: id, queue: 'default' }))
    const body = rulesBody(3, 'Asia/Shanghai', move(rows, 2, -1))
    expect(body.version).toBe(3)
    expect(body.rules.map((r) => r.rule_id)).toEqual(['a', 'c', 'b'])
    expect(move(rows, 0, -1)).toBe(rows)
  })
})
