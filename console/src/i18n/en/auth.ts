import type zh from '../zh-CN/auth'

const en: typeof zh = {
  title: 'Sign in to the kefu console',
  shop: 'Shop ID',
  username: 'Username',
  password: 'Password',
  signIn: 'Sign in',
  mfaTitle: 'Two-step verification',
  mfaHelp: 'Enter the 6-digit code from your authenticator app',
  mfaCode: 'Code',
  verify: 'Verify',
  newPasswordTitle: 'Choose a new password',
  newPasswordHelp: 'First sign-in or password reset: at least 12 characters with lower- and upper-case letters, a digit and a symbol',
  newPassword: 'New password',
  required: '{field} is required',
  errors: {
    bad_credentials: 'Wrong shop, username or password',
    bad_mfa_code: 'Wrong code',
    session_expired: 'The sign-in timed out: start again',
    staff_disabled: 'This account is disabled',
    shop_suspended: 'This shop is suspended',
    weak_password: 'The password is too weak',
    too_many_requests: 'Too many attempts: try again later',
  },
}
export default en
