export default {
  inbox: '会话',
  customers: '客户',
  tickets: '工单',
  knowledge: '知识库与机器人',
  campaigns: '营销活动',
  reports: '数据报表',
  settings: '设置',
  signOut: '退出登录',
  shortcuts: '快捷键',
}
