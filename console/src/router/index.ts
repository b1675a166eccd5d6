// Every screen is its own chunk (a dynamic import), so the first load is the shell only.
// Later screens register here and in nav.ts.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { customersRoute } from '@/views/customers/routes'

export const routes: RouteRecordRaw[] = [
  { path: '/signin', name: 'signin', component: () => import('@/views/SignInView.vue'), meta: { public: true } },
  {
    path: '/',
    component: () => import('@/layouts/MainLayout.vue'),
    children: [
      { path: '', redirect: { name: 'inbox' } },
      { path: 'inbox/:conversationId?', name: 'inbox', component: () => import('@/views/InboxView.vue') },
      { path: 'knowledge/:tab?', name: 'knowledge', component: () => import('@/views/bot/KnowledgeBotView.vue') },
      customersRoute,
      { path: 'tickets', name: 'tickets', component: () => import('@/views/tickets/TicketsView.vue') },
      { path: 'tickets/:ticketId', name: 'ticket', component: () => import('@/views/tickets/TicketDetailView.vue'), props: true },
      { path: 'settings/:section?', name: 'settings', component: () => import('@/views/settings/SettingsView.vue'), props: true, meta: { supervisor: true } },
    ],
  },
  { path: '/:pathMatch(.*)*', redirect: { name: 'inbox' } },
]

export const router = createRouter({ history: createWebHistory(), routes })

let resumed = false

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  // First navigation after a reload: resume the session from the refresh cookie.
  if (!resumed) {
    resumed = true
    if (!auth.signedIn) await auth.refresh()
  }
  if (to.meta.public) return auth.signedIn && to.name === 'signin' ? { name: 'inbox' } : true
  if (!auth.signedIn) return { name: 'signin', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  if (to.meta.supervisor && !auth.isSupervisor) return { name: 'inbox' }
  return true
})
