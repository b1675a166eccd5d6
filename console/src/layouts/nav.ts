// The navigation: one entry per area. `route` is set once the area's screen exists; entries
// without one are shown disabled (marked "coming soon"), never as an empty page.
export interface NavEntry {
  key: 'inbox' | 'customers' | 'tickets' | 'knowledge' | 'campaigns' | 'reports' | 'settings'
  icon: string
  route?: string
  /** Shown to owners and supervisors only. */
  supervisor?: boolean
}

export const NAV: NavEntry[] = [
  { key: 'inbox', icon: '💬', route: 'inbox' },
  { key: 'customers', icon: '👥', route: 'customers' },
  { key: 'tickets', icon: '🎫', route: 'tickets' },
  { key: 'knowledge', icon: '📚', route: 'knowledge' },
  { key: 'campaigns', icon: '📣' },
  { key: 'reports', icon: '📊' },
  { key: 'settings', icon: '⚙️', route: 'settings', supervisor: true },
]
