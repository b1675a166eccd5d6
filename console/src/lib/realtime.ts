// The staff WebSocket (docs/realtime.md): token in the query string, a ping every few minutes
// (API Gateway closes idle sockets after 10), reconnect with back-off; frames to a listener.
import type { RealtimeFrame } from '@/api/types'

export interface RealtimeOptions {
  url: string
  token: () => Promise<string | null> | string | null
  onFrame: (frame: RealtimeFrame) => void
  onState?: (connected: boolean) => void
  WebSocketImpl?: typeof WebSocket
  pingMs?: number
}

export function socketUrl(base: string, token: string, shopId?: string | null): string {
  const url = new URL(base)
  url.searchParams.set('token', token)
  if (shopId) url.searchParams.set('shop_id', shopId)
  return url.toString()
}

/** Back-off after `failures` failed attempts: 1 s, 2 s, 4 s … capped at 30 s. */
export function backoffMs(failures: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, failures))
}

export class Realtime {
  private socket: WebSocket | null = null
  private stopped = false
  private failures = 0
  private pingTimer: ReturnType<typeof setInterval> | null = null
  private retryTimer: ReturnType<typeof setTimeout> | null = null

  constructor(private readonly options: RealtimeOptions) {}

  async start(): Promise<void> {
    this.stopped = false
    const token = await this.options.token()
    if (!token || this.stopped) return
    const Impl = this.options.WebSocketImpl ?? WebSocket
    const socket = new Impl(socketUrl(this.options.url, token))
    this.socket = socket
    socket.onopen = () => {
      this.failures = 0
      this.options.onState?.(true)
      this.pingTimer = setInterval(() => socket.send(JSON.stringify({ action: 'ping' })), this.options.pingMs ?? 240_000)
    }
    socket.onmessage = (event: MessageEvent) => {
      try {
        this.options.onFrame(JSON.parse(String(event.data)) as RealtimeFrame)
      } catch {
        // a frame that is not JSON: ignore it
      }
    }
    socket.onclose = () => {
      this.cleanup()
      this.options.onState?.(false)
      if (this.stopped) return
      this.retryTimer = setTimeout(() => void this.start(), backoffMs(this.failures++))
    }
  }

  send(frame: Record<string, unknown>): void {
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(frame))
  }

  stop(): void {
    this.stopped = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.socket?.close()
    this.cleanup()
  }

  private cleanup(): void {
    if (this.pingTimer) clearInterval(this.pingTimer)
    this.pingTimer = null
    this.socket = null
  }
}
