import type zh from '../zh-CN/common'

const en: typeof zh = {
  appName: 'kefu Console',
  loading: 'Loading…',
  retry: 'Retry',
  cancel: 'Cancel',
  confirm: 'OK',
  save: 'Save',
  close: 'Close',
  none: 'None',
  language: 'Language',
  error: 'Something went wrong: {message}',
  connected: 'Live updates connected',
  disconnected: 'Live updates disconnected, reconnecting…',
  comingSoon: 'Coming soon',
  shopTime: 'Shop time ({tz})',
  roles: { owner: 'Owner', supervisor: 'Supervisor', agent: 'Agent', platform: 'Platform' },
  channels: { wechat_miniprogram: 'Mini-program', app: 'App', h5: 'H5', internal: 'Internal' },
}
export default en
