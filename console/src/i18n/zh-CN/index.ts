import common from './common'
import nav from './nav'
import auth from './auth'
import inbox from './inbox'
import conversation from './conversation'
import context from './context'
import shortcuts from './shortcuts'
import bot from './bot'
import customers from './customers'
import tickets from './tickets'
import settings from './settings'

const messages = { common, nav, auth, inbox, conversation, context, shortcuts, bot, customers, tickets, settings }
export default messages
export type Messages = typeof messages
