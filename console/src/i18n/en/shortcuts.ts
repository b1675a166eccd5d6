import type zh from '../zh-CN/shortcuts'

const en: typeof zh = {
  title: 'Keyboard shortcuts',
  next: 'Next conversation',
  previous: 'Previous conversation',
  send: 'Send the reply',
  quickReply: 'Quick reply',
  transfer: 'Transfer',
  resolve: 'Resolve',
  help: 'Show shortcuts',
}
export default en
