// zh-CN is the default and the source of truth for keys; English is typed against it
// (en/*.ts: `typeof zh`), so a missing English string fails `vue-tsc`. One file per area: a new
// screen adds its own file to both folders and to the two index.ts.
import { createI18n } from 'vue-i18n'
import zhCN, { type Messages } from './zh-CN'
import en from './en'

export type Locale = 'zh-CN' | 'en'
export const LOCALES: Locale[] = ['zh-CN', 'en']
const STORAGE_KEY = 'kefu.locale'

export function initialLocale(stored: string | null = localStorage.getItem(STORAGE_KEY)): Locale {
  return stored === 'en' || stored === 'zh-CN' ? stored : 'zh-CN'
}

export const i18n = createI18n<[Messages], Locale, false>({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
})

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  localStorage.setItem(STORAGE_KEY, locale)
  document.documentElement.lang = locale
}
