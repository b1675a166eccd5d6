// What the signed-in member may do to another (docs/staff.md), so the screen hides the rest:
// owners change roles and status (never their own) and reset anyone else's password;
// supervisors reset agents' passwords; both set agents' capacity.
import type { StaffMember } from '@/api/tickets'

export interface StaffPermissions {
  changeRole: boolean
  disable: boolean
  resetPassword: boolean
  setCapacity: boolean
}

export function staffPermissions(role: string | null, me: string | null, member: Pick<StaffMember, 'username' | 'role'>): StaffPermissions {
  const self = member.username === me
  const owner = role === 'owner'
  const supervisor = role === 'supervisor'
  const platform = member.role === 'platform' // provisioned by the mall's operator, not here
  return {
    changeRole: owner && !self && !platform,
    disable: owner && !self && !platform,
    resetPassword: !self && !platform && (owner || (supervisor && member.role === 'agent')),
    setCapacity: (owner || supervisor) && member.role === 'agent',
  }
}
