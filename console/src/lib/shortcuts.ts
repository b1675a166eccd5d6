// The workbench's keyboard shortcuts (Alt+key, so they never clash with typing; `/` and Enter
// belong to the composer itself). The table is data, so the help dialog lists the same keys.
import { onMounted, onUnmounted } from 'vue'

export type ShortcutAction = 'next' | 'previous' | 'transfer' | 'resolve' | 'quickReply' | 'help'

export const SHORTCUTS: { action: ShortcutAction; keys: string; match: (e: KeyboardEvent) => boolean }[] = [
  { action: 'next', keys: 'Alt + ↓ / Alt + J', match: (e) => e.altKey && (e.key === 'ArrowDown' || e.code === 'KeyJ') },
  { action: 'previous', keys: 'Alt + ↑ / Alt + K', match: (e) => e.altKey && (e.key === 'ArrowUp' || e.code === 'KeyK') },
  { action: 'quickReply', keys: '/', match: (e) => !e.altKey && !e.ctrlKey && !e.metaKey && e.key === '/' && !isTyping(e) },
  { action: 'transfer', keys: 'Alt + T', match: (e) => e.altKey && e.code === 'KeyT' },
  { action: 'resolve', keys: 'Alt + R', match: (e) => e.altKey && e.code === 'KeyR' },
  { action: 'help', keys: '?', match: (e) => e.key === '?' && !isTyping(e) },
]

function isTyping(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.isContentEditable)
}

export function shortcutFor(e: KeyboardEvent): ShortcutAction | null {
  return SHORTCUTS.find((s) => s.match(e))?.action ?? null
}

export function useShortcuts(handlers: Partial<Record<ShortcutAction, () => void>>): void {
  const listener = (e: KeyboardEvent): void => {
    const action = shortcutFor(e)
    const handler = action ? handlers[action] : undefined
    if (handler) {
      e.preventDefault()
      handler()
    }
  }
  onMounted(() => window.addEventListener('keydown', listener))
  onUnmounted(() => window.removeEventListener('keydown', listener))
}
