// The segment builder's model: an editable tree of AND/OR groups and conditions, each
// negatable, turned into the API's filter JSON (docs/segments.md: every node an object with
// exactly one key; `and` / `or` / `not` over conditions) and back, so a saved segment opens
// for editing. Incomplete conditions (no value chosen yet) are left out of the JSON rather
// than sent as errors; an empty tree means "every customer" (no filter: the caller decides).
import type { ApiFilter } from '@/api/customers'

export const SET_FIELDS = ['tag', 'tier', 'lifecycle_stage', 'channel', 'region', 'owner_agent'] as const
export const RANGE_FIELDS = ['spend', 'orders_count'] as const
export const TIME_FIELDS = ['last_purchase', 'last_contact'] as const
export type SetField = (typeof SET_FIELDS)[number]
export type RangeField = (typeof RANGE_FIELDS)[number]
export type TimeField = (typeof TIME_FIELDS)[number]
export type Field = SetField | RangeField | TimeField | 'attribute'
export const FIELDS: Field[] = [...SET_FIELDS, ...RANGE_FIELDS, ...TIME_FIELDS, 'attribute']

/** The API's limits (POST /v1/segments/preview answers filter_too_deep / filter_too_large). */
export const MAX_DEPTH = 8
export const MAX_CONDITIONS = 40

interface Base { id: string; negate: boolean }
export interface SetCondition extends Base { kind: 'set'; field: SetField; match: 'in' | 'all'; values: string[] }
/** Bounds as people type them: spend in yuan (元), the API counts cents (分). */
export interface RangeCondition extends Base { kind: 'range'; field: RangeField; min: number | null; max: number | null }
export interface TimeCondition extends Base { kind: 'time'; field: TimeField; mode: 'within_days' | 'more_than_days'; days: number | null }
export interface AttributeCondition extends Base { kind: 'attribute'; field: 'attribute'; attributeId: string; values: (string | number | boolean)[] }
export type Condition = SetCondition | RangeCondition | TimeCondition | AttributeCondition
export interface Group extends Base { kind: 'group'; op: 'and' | 'or'; children: FilterNode[] }
export type FilterNode = Group | Condition

let seq = 0
const nextId = (): string => `n${++seq}`

export function newGroup(op: 'and' | 'or' = 'and', children: FilterNode[] = []): Group {
  return { id: nextId(), kind: 'group', op, negate: false, children }
}

export function newCondition(field: Field): Condition {
  const base = { id: nextId(), negate: false }
  if ((SET_FIELDS as readonly string[]).includes(field)) return { ...base, kind: 'set', field: field as SetField, match: 'in', values: [] }
  if ((RANGE_FIELDS as readonly string[]).includes(field)) return { ...base, kind: 'range', field: field as RangeField, min: null, max: null }
  if ((TIME_FIELDS as readonly string[]).includes(field)) return { ...base, kind: 'time', field: field as TimeField, mode: 'within_days', days: 30 }
  return { ...base, kind: 'attribute', field: 'attribute', attributeId: '', values: [] }
}

/** Finds the group holding `id` and takes the node out; false when it is the root or unknown. */
export function removeNode(root: Group, id: string): boolean {
  const at = root.children.findIndex((c) => c.id === id)
  if (at >= 0) {
    root.children.splice(at, 1)
    return true
  }
  return root.children.some((c) => c.kind === 'group' && removeNode(c, id))
}

const isNum = (n: number | null): n is number => typeof n === 'number' && Number.isFinite(n)

function conditionJson(c: Condition): ApiFilter | null {
  switch (c.kind) {
    case 'set':
      return c.values.length ? { [c.field]: { [c.match]: [...c.values] } } : null
    case 'range': {
      const scale = c.field === 'spend' ? 100 : 1
      const range: Record<string, number> = {}
      if (isNum(c.min)) range.gte = Math.round(c.min * scale)
      if (isNum(c.max)) range.lte = Math.round(c.max * scale)
      return Object.keys(range).length ? { [c.field]: range } : null
    }
    case 'time':
      return isNum(c.days) && c.days >= 0 ? { [c.field]: { [c.mode]: Math.floor(c.days) } } : null
    case 'attribute':
      return c.attributeId && c.values.length ? { attribute: { id: c.attributeId, in: [...c.values] } } : null
  }
}

/** The API filter for a node, or null when nothing in it is complete yet. */
export function toApiFilter(node: FilterNode): ApiFilter | null {
  let json: ApiFilter | null
  if (node.kind === 'group') {
    const parts = node.children.map(toApiFilter).filter((p): p is ApiFilter => p !== null)
    // One part needs no group around it; the API counts depth, so keep the JSON shallow.
    json = parts.length === 0 ? null : parts.length === 1 ? (parts[0] ?? null) : { [node.op]: parts }
  } else {
    json = conditionJson(node)
  }
  return json && node.negate ? { not: json } : json
}

function negated(node: FilterNode, negate: boolean): FilterNode {
  node.negate = negate !== node.negate
  return node
}

function parseNode(filter: ApiFilter, negate = false): FilterNode {
  const entries = Object.entries(filter).filter(([, v]) => v !== null && v !== undefined)
  if (entries.length !== 1) throw new Error('invalid_filter: a node has exactly one key')
  const [key, value] = entries[0] as [string, unknown]
  if (key === 'not') return negated(parseNode(value as ApiFilter), !negate)
  if (key === 'and' || key === 'or') {
    return negated(newGroup(key, (value as ApiFilter[]).map((f) => parseNode(f))), negate)
  }
  const cond = newCondition(key as Field)
  const v = value as Record<string, unknown>
  if (cond.kind === 'set') {
    cond.match = Array.isArray(v.all) ? 'all' : 'in'
    cond.values = [...((v.all ?? v.in ?? []) as string[])]
  } else if (cond.kind === 'range') {
    const scale = cond.field === 'spend' ? 100 : 1
    const lo = (v.gte ?? (typeof v.gt === 'number' ? v.gt + 1 : null)) as number | null
    const hi = (v.lte ?? (typeof v.lt === 'number' ? v.lt - 1 : null)) as number | null
    cond.min = lo === null ? null : lo / scale
    cond.max = hi === null ? null : hi / scale
  } else if (cond.kind === 'time') {
    cond.mode = typeof v.more_than_days === 'number' ? 'more_than_days' : 'within_days'
    cond.days = (v[cond.mode] as number | undefined) ?? null
  } else if (cond.kind === 'attribute') {
    cond.attributeId = String(v.id ?? '')
    cond.values = [...((v.in ?? []) as (string | number | boolean)[])]
  } else {
    throw new Error(`invalid_filter: unknown condition ${key}`)
  }
  return negated(cond, negate)
}

/** A saved filter as an editable tree; the root is always a group. */
export function fromApiFilter(filter: ApiFilter | null | undefined): Group {
  if (!filter || Object.keys(filter).length === 0) return newGroup()
  const node = parseNode(filter)
  return node.kind === 'group' ? node : newGroup('and', [node])
}

/** Depth (root = 1) and number of conditions, to warn before the API refuses. */
export function measure(node: FilterNode): { depth: number; conditions: number } {
  if (node.kind !== 'group') return { depth: 1, conditions: 1 }
  let depth = 0
  let conditions = 0
  for (const child of node.children) {
    const m = measure(child)
    depth = Math.max(depth, m.depth)
    conditions += m.conditions
  }
  return { depth: depth + 1, conditions }
}

/** The list screen's quick filters, as one API filter (null: no filter, list everyone). */
export function quickFilter(q: { tags: string[]; tiers: string[]; stages: string[] }): ApiFilter | null {
  const parts: ApiFilter[] = []
  if (q.tags.length) parts.push({ tag: { in: [...q.tags] } })
  if (q.tiers.length) parts.push({ tier: { in: [...q.tiers] } })
  if (q.stages.length) parts.push({ lifecycle_stage: { in: [...q.stages] } })
  return parts.length === 0 ? null : parts.length === 1 ? (parts[0] ?? null) : { and: parts }
}
