// Live preview while a filter is edited: calls wait `delayMs` after the last change, and an
// answer that arrives after a newer request was sent is dropped, so the count on screen is
// always the latest filter's.
export interface DebouncedRunner<A> {
  /** Schedule a run with these arguments (replacing any scheduled one). */
  schedule: (arg: A) => void
  /** Run now, skipping the wait. */
  flush: () => void
  cancel: () => void
}

export function debouncedLatest<A, R>(
  run: (arg: A) => Promise<R>,
  onResult: (result: R) => void,
  onError: (error: unknown) => void,
  delayMs = 400,
): DebouncedRunner<A> {
  let timer: ReturnType<typeof setTimeout> | null = null
  let pending: { arg: A } | null = null
  let generation = 0

  const fire = (): void => {
    timer = null
    if (!pending) return
    const { arg } = pending
    pending = null
    const mine = ++generation
    run(arg).then(
      (result) => { if (mine === generation) onResult(result) },
      (error: unknown) => { if (mine === generation) onError(error) },
    )
  }

  return {
    schedule(arg: A) {
      pending = { arg }
      if (timer !== null) clearTimeout(timer)
      timer = setTimeout(fire, delayMs)
    },
    flush() {
      if (timer !== null) clearTimeout(timer)
      fire()
    },
    cancel() {
      if (timer !== null) clearTimeout(timer)
      timer = null
      pending = null
      generation++
    },
  }
}
