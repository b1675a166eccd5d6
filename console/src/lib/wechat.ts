// WeChat push settings helpers: the full push URL to paste into the mini-program console
// (开发管理 → 消息推送), and fresh random Token / EncodingAESKey values in WeChat's formats.
import type { components } from '@/api/schema'

export type WeChatSettingsView = components['schemas']['WeChatSettingsView']
export type WeChatSettingsPut = components['schemas']['WeChatSettingsPut']

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** The API's base URL + the shop's push path; a same-origin API ('') uses the page's origin. */
export function pushUrl(apiBaseUrl: string, pushPath: string, origin: string): string {
  const base = (apiBaseUrl || origin).replace(/\/+$/, '')
  return `${base}${pushPath.startsWith('/') ? '' : '/'}${pushPath}`
}

/** `length` letters and digits from a CSPRNG (WeChat: Token 3–32, EncodingAESKey exactly 43). */
export function randomAlphanumeric(length: number, random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  const out: string[] = []
  while (out.length < length) {
    for (const byte of random(new Uint8Array(length))) {
      // 248 = 4 × 62: reject the rest so every character is equally likely
      if (byte < 248 && out.length < length) out.push(ALPHANUMERIC[byte % 62] as string)
    }
  }
  return out.join('')
}

export interface WeChatForm {
  appid: string
  push_mode: 'plain' | 'compatible' | 'secure'
  app_secret: string
  token: string
  encoding_aes_key: string
}

/** Only what the owner typed: a blank secret keeps the stored one (the API never returns it). */
export function weChatBody(form: WeChatForm): WeChatSettingsPut {
  const body: WeChatSettingsPut = { appid: form.appid.trim(), push_mode: form.push_mode }
  if (form.app_secret.trim()) body.app_secret = form.app_secret.trim()
  if (form.token.trim()) body.token = form.token.trim()
  if (form.encoding_aes_key.trim()) body.encoding_aes_key = form.encoding_aes_key.trim()
  if (form.push_mode === 'plain') body.encoding_aes_key = '' // plain mode: no key (the API's rule)
  return body
}
