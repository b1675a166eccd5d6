export default {
  title: '键盘快捷键',
  next: '下一个会话',
  previous: '上一个会话',
  send: '发送回复',
  quickReply: '快捷回复',
  transfer: '转接',
  resolve: '解决会话',
  help: '显示快捷键',
}
