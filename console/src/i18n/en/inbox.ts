import type zh from '../zh-CN/inbox'

const en: typeof zh = {
  views: {
    mine: 'Mine',
    my_queues: 'My queues',
    unassigned: 'Unassigned',
    waiting_longest: 'Waiting longest',
    snoozed: 'Snoozed',
    bot: 'With the bot',
    all: 'All',
  },
  filters: { queue: 'Queue', tier: 'Tier', tag: 'Tag', channel: 'Channel', any: 'Any', hint: 'Filter this list' },
  empty: 'No conversations',
  loadMore: 'Load more',
  unread: '{n} unread',
  pending: 'Pending',
  snoozedUntil: 'Snoozed until {time}',
  status: { bot: 'Bot', queued: 'Queued', assigned: 'Assigned', resolved: 'Resolved', closed: 'Closed' },
  selectOne: 'Pick a conversation on the left',
  newMessageTitle: 'New message',
  notifyEnable: 'Enable desktop notifications',
}
export default en
