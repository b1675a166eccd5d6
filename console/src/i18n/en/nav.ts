import type zh from '../zh-CN/nav'

const en: typeof zh = {
  inbox: 'Inbox',
  customers: 'Customers',
  tickets: 'Tickets',
  knowledge: 'Knowledge & bot',
  campaigns: 'Campaigns',
  reports: 'Reports',
  settings: 'Settings',
  signOut: 'Sign out',
  shortcuts: 'Shortcuts',
}
export default en
