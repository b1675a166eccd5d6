import type zh from '../zh-CN/customers'

const en: typeof zh = {
  tabs: { list: 'Customers', segments: 'Segments', tags: 'Tags', attributes: 'Custom attributes', tiers: 'Tiers', import: 'Import / export' },
  search: 'Search name / phone / external id',
  filters: { tag: 'Tag', tier: 'Tier', stage: 'Lifecycle', segment: 'Segment', sort: 'Sort' },
  sort: { newest: 'Newest', last_contact: 'Last contact', spend: 'Spend' },
  stage: { prospect: 'Prospect', ordered: 'Ordered', repeat: 'Repeat buyer', after_sales: 'After-sales' },
  col: { name: 'Customer', tier: 'Tier', tags: 'Tags', stage: 'Lifecycle', spend: 'Spend', orders: 'Orders', lastContact: 'Last contact', owner: 'Owner agent', region: 'Region', channels: 'Channels' },
  count: '{n} customers',
  filteredNote: 'Showing the first {n}; save as a segment to page through all',
  loadMore: 'Load more',
  empty: 'No customers match',
  bulk: { selected: '{n} selected', tag: 'Add tags', untag: 'Remove tags', owner: 'Set owner agent', submit: 'Submit', progress: 'Progress {done}/{total}', status: { queued: 'Queued', awaiting_approval: 'Awaiting owner approval', running: 'Running', done: 'Done', failed: 'Failed', rejected: 'Rejected' } },
  profile: {
    title: 'Customer profile', reveal: 'Reveal personal data', revealNote: 'Revealing is recorded in the audit log', masked: 'Masked',
    edit: 'Edit', save: 'Save', cancel: 'Cancel', saved: 'Saved',
    fields: { display_name: 'Display name', real_name: 'Real name', phones: 'Phones', region: 'Region', remarks: 'Remarks', lifecycle: 'Lifecycle', lifecycleAuto: 'Automatic (from purchases)', owner: 'Owner agent', birthday: 'Birthday', gender: 'Gender' },
    tier: 'Tier', points: 'Points', rfm: 'RFM', summary: 'Purchases', spend: 'Spend', orders: 'Orders', aov: 'Avg. order', refunds: 'Refunds',
    tags: 'Tags', addTag: 'Add tag', history: 'Tag history', attributes: 'Custom attributes', recentOrders: 'Recent orders', logistics: 'Logistics trail', noOrders: 'No orders yet',
    source: { manual: 'Manual', rule: 'Auto rule', job: 'Bulk job', import: 'Import' },
    merge: 'Merge customer', mergeId: 'Customer id to merge in', mergePreview: 'Preview', mergeConfirm: 'Confirm merge', mergeBlocked: 'Cannot merge: {reason}', mergeMoves: 'Moves: {c} conversations, {t} tickets, {o} orders, {i} identities',
    export: 'Export data', erase: 'Erase customer', eraseConfirm: 'This permanently removes or anonymises the customer\'s personal data and cannot be undone. Continue?', erased: 'Erased', exported: 'Exported',
  },
  segment: {
    new: 'New segment', name: 'Segment name', description: 'Description', save: 'Save segment', update: 'Update segment', delete: 'Delete', deleteConfirm: 'Delete segment "{name}"?',
    saved: 'Saved segments', liveCount: 'Live count', counting: 'Counting…', countAge: '{n} · counted {age} ago', refresh: 'Recount', noFilter: 'No conditions: matches every customer',
    and: 'All of (AND)', or: 'Any of (OR)', not: 'Not', addCondition: 'Add condition', addGroup: 'Add group', remove: 'Remove',
    match: { in: 'has any of', all: 'has all of' }, min: 'Min', max: 'Max', days: 'days', within: 'Within N days', moreThan: 'More than N days ago', values: 'Values',
    tooBig: 'Too many conditions: at most {c} conditions and {d} levels', firstPage: 'First {n}',
    fields: { tag: 'Tag', tier: 'Tier', lifecycle_stage: 'Lifecycle stage', channel: 'Channel', region: 'Region', owner_agent: 'Owner agent', spend: 'Spend (yuan)', orders_count: 'Order count', last_purchase: 'Last purchase', last_contact: 'Last contact', attribute: 'Custom attribute' },
  },
  tags: {
    groups: 'Tag groups', tags: 'Tags', rules: 'Auto-tag rules', newGroup: 'New group', newTag: 'New tag', name: 'Name', group: 'Group', colour: 'Colour', description: 'Description', usage: 'Customers',
    ungrouped: 'Ungrouped', rule: 'Rule', trigger: 'Trigger', enabled: 'Enabled', newRule: 'New rule', keywords: 'Keywords (comma separated)', backfill: 'Also tag existing customers',
    triggers: { keyword: 'Message keyword', intent: 'Intent', order: 'Order placed', order_count: 'Order count', refund: 'Refund', campaign_clicked: 'Campaign clicked', cart_abandoned: 'Cart abandoned', tier_changed: 'Tier changed', attribute: 'Attribute' },
  },
  attributes: { id: 'Attribute id', name: 'Name', type: 'Type', options: 'Options (comma separated)', new: 'New attribute', types: { text: 'Text', number: 'Number', date: 'Date', single_choice: 'Single choice', multi_choice: 'Multiple choice', bool: 'Yes / no' } },
  tiers: { recency: 'Recency thresholds (days)', frequency: 'Frequency thresholds (orders)', monetary: 'Monetary thresholds (yuan)', tiers: 'Tiers', points: 'Points', pointsPerYuan: 'Points per yuan', levels: 'Member levels', minPoints: 'Min points', saved: 'Saved' },
  ageUnits: { s: '{n} s', m: '{n} min', h: '{n} h', d: '{n} d' },
  confirm: 'Confirm', create: 'Create', actions: 'Actions', deleted: 'Deleted', importLater: 'Import and export are coming soon',
}
export default en
