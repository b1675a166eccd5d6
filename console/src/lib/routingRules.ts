// The routing rule editor's rows ↔ the API's rule list (PUT /v1/routing/rules, docs/routing.md):
// lists typed as "快递, 物流" become arrays, empty conditions are left out (an absent condition
// always holds), and conditions the editor does not show (categories, seller_shops) are kept.
import type { components } from '@/api/schema'
import { parseSpans } from './calendar'

type S = components['schemas']
export type RoutingRule = S['RoutingRule']
export type RoutingRules = S['RoutingRules']
export type RoutingRulesPut = S['RoutingRulesPut']
type Conditions = NonNullable<RoutingRule['conditions']>

export interface RuleRow {
  rule_id: string
  name: string
  queue: string
  priority: number
  enabled: boolean
  keywords: string
  tiers: string
  tags: string
  channels: string
  weekdays: number[]
  ranges: string
  outside: boolean
  /** The conditions as read, so ones without an editor field survive a save. */
  kept: Conditions
}

const list = (text: string): string[] => [...new Set(text.split(/[,，;；\n]+/).map((s) => s.trim()).filter(Boolean))]
const join = (values: readonly string[] | null | undefined): string => (values ?? []).join(', ')

export function ruleRow(rule: RoutingRule): RuleRow {
  const c: Conditions = rule.conditions ?? {}
  return {
    rule_id: rule.rule_id,
    name: rule.name ?? '',
    queue: rule.queue,
    priority: rule.priority ?? 0,
    enabled: rule.enabled ?? true,
    keywords: join(c.keywords),
    tiers: join(c.tiers),
    tags: join(c.tags),
    channels: join(c.channels),
    weekdays: [...(c.hours?.weekdays ?? [])],
    ranges: join(c.hours?.ranges),
    outside: c.hours?.outside ?? false,
    kept: c,
  }
}

export function emptyRow(queue: string, taken: string[]): RuleRow {
  let n = taken.length + 1
  while (taken.includes(`rule-${n}`)) n += 1
  return ruleRow({ rule_id: `rule-${n}`, queue, priority: 0, enabled: true, conditions: {} })
}

export function ruleFromRow(row: RuleRow): RoutingRule {
  const conditions: Conditions = { ...row.kept }
  const set = (key: 'keywords' | 'tiers' | 'tags' | 'channels', text: string): void => {
    const values = list(text)
    if (values.length) conditions[key] = values
    else delete conditions[key]
  }
  set('keywords', row.keywords)
  set('tiers', row.tiers)
  set('tags', row.tags)
  set('channels', row.channels)
  const ranges = parseSpans(row.ranges)
  if (row.weekdays.length || ranges.length) {
    conditions.hours = { weekdays: [...row.weekdays].sort((a, b) => a - b), ranges, outside: row.outside }
  } else {
    delete conditions.hours
  }
  const rule: RoutingRule = { rule_id: row.rule_id.trim(), queue: row.queue, priority: row.priority, enabled: row.enabled, conditions }
  if (row.name.trim()) rule.name = row.name.trim()
  return rule
}

export function rulesBody(version: number, timezone: string, rows: RuleRow[]): RoutingRulesPut {
  return { version, timezone, rules: rows.map(ruleFromRow) }
}

/** Moves the row at `index` by `step` (−1 up, +1 down); the order is the rules' precedence. */
export function move<T>(rows: T[], index: number, step: -1 | 1): T[] {
  const target = index + step
  if (target < 0 || target >= rows.length) return rows
  const next = [...rows]
  const [row] = next.splice(index, 1) as [T]
  next.splice(target, 0, row)
  return next
}
