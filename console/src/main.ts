import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { loadConfig } from './config'
import { createApi } from './api'
import { i18n } from './i18n'
import { router } from './router'
import { useAuthStore } from './stores/auth'
import './styles.css'

async function start(): Promise<void> {
  const config = await loadConfig()
  const app = createApp(App)
  const pinia = createPinia()
  app.use(pinia)
  const auth = useAuthStore(pinia)
  createApi(config.apiBaseUrl, {
    token: () => auth.accessToken,
    refresh: () => auth.refresh(),
    onSignedOut: () => {
      auth.clear()
      void router.push({ name: 'signin' })
    },
  })
  app.use(i18n)
  app.use(router)
  app.mount('#app')
}

start().catch((error: unknown) => {
  const root = document.getElementById('app')
  if (root) root.textContent = `kefu console: ${error instanceof Error ? error.message : String(error)}`
})
