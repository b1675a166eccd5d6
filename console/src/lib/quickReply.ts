// `/` in the composer opens the quick replies; what follows the slash filters them.

export interface QuickReplyLike {
  quick_reply_id: string
  title: string
  text: string
  matched?: boolean
  use_count: number
}

/** The query after a leading `/` in the composer, or null when the composer is not a command. */
export function slashQuery(draft: string): string | null {
  if (!draft.startsWith('/')) return null
  const query = draft.slice(1)
  return query.includes('\n') ? null : query.trim().toLowerCase()
}

/**
 * Replies whose title or text contains the query; the API's order (replies for this customer's
 * groups first, then most used) is kept, and title matches come before text-only matches.
 */
export function filterQuickReplies<T extends QuickReplyLike>(replies: T[], query: string): T[] {
  if (!query) return replies
  const inTitle = replies.filter((r) => r.title.toLowerCase().includes(query))
  const inText = replies.filter((r) => !inTitle.includes(r) && r.text.toLowerCase().includes(query))
  return [...inTitle, ...inText]
}

// The server's template syntax (kefu/bot/templates.py): `{name}` or `{name|default}`.
const VARIABLE = /\{([A-Za-z0-9_]*)(?:\|([^{}|]{0,50}))?\}/g

/**
 * The text with its variables filled from what the console knows (the preview); a variable
 * without a value keeps its default, else stays as written. Sending is done by the server,
 * which fills them from the conversation itself.
 */
export function previewText(text: string, values: Record<string, string | null | undefined>): string {
  return text.replace(VARIABLE, (whole, key: string, fallback: string | undefined) => values[key] || fallback || whole)
}
