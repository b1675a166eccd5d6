// The staff session: the access token in memory only (never localStorage); the refresh token in
// the HttpOnly cookie the API sets, so a reload signs back in through POST /v1/staff/login/refresh.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api } from '@/api'
import { isChallenge } from '@/api/kefu'
import type { StaffChallenge, StaffSession } from '@/api/types'

export type Role = 'owner' | 'supervisor' | 'agent' | 'platform'

// Set while a refresh cookie should exist, so a first visit does not ask for a refresh that
// can only fail (a 401 in the console). The cookie itself stays out of the page's reach.
const SESSION_HINT = 'kefu.session'

export const useAuthStore = defineStore('auth', () => {
  const accessToken = ref<string | null>(null)
  const shopId = ref<string | null>(null)
  const username = ref<string | null>(null)
  const role = ref<Role | null>(null)
  const displayName = ref<string | null>(null)
  const challenge = ref<StaffChallenge | null>(null)

  const signedIn = computed(() => accessToken.value !== null)
  const isSupervisor = computed(() => role.value === 'owner' || role.value === 'supervisor')

  function accept(session: { access_token: string; shop_id: string; staff: { username?: string; role?: string; display_name?: string | null } }): void {
    accessToken.value = session.access_token
    shopId.value = session.shop_id
    username.value = session.staff.username ?? null
    role.value = (session.staff.role as Role | undefined) ?? null
    displayName.value = session.staff.display_name ?? null
    challenge.value = null
    localStorage.setItem(SESSION_HINT, '1')
  }

  /** Password step: signed in, or a challenge (MFA, new password) to answer next. */
  async function signIn(shop: string, user: string, password: string): Promise<'signed_in' | StaffChallenge['challenge']> {
    const answer = await api().login(shop, user, password)
    if (isChallenge(answer)) {
      challenge.value = answer
      return answer.challenge
    }
    accept(answer as StaffSession)
    return 'signed_in'
  }

  async function answerMfa(code: string): Promise<void> {
    const c = challenge.value
    if (!c) throw new Error('no challenge')
    accept(await api().loginMfa(c.shop_id, c.username, c.session, code))
  }

  async function answerNewPassword(password: string): Promise<'signed_in' | StaffChallenge['challenge']> {
    const c = challenge.value
    if (!c) throw new Error('no challenge')
    const answer = await api().loginNewPassword(c.shop_id, c.username, c.session, password)
    if (isChallenge(answer)) {
      challenge.value = answer
      return answer.challenge
    }
    accept(answer as StaffSession)
    return 'signed_in'
  }

  /** A new access token from the refresh cookie; null when there is no session to resume. */
  async function refresh(): Promise<string | null> {
    if (!localStorage.getItem(SESSION_HINT)) return null
    try {
      const answer = await api().refresh()
      accept(answer)
      return answer.access_token
    } catch {
      clear()
      return null
    }
  }

  async function signOut(): Promise<void> {
    try {
      if (accessToken.value) await api().logout()
    } finally {
      clear()
    }
  }

  function clear(): void {
    localStorage.removeItem(SESSION_HINT)
    accessToken.value = null
    role.value = null
    username.value = null
    displayName.value = null
  }

  return {
    accessToken, shopId, username, role, displayName, challenge, signedIn, isSupervisor,
    signIn, answerMfa, answerNewPassword, refresh, signOut, clear,
  }
})
