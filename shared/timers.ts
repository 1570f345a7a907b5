/** Timer helpers that behave the same on Node, Bun, Deno and in browsers. */

/** Resolves after `ms`, or at once when `signal` aborts (it never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `fn` after pending I/O: setImmediate where the runtime has it (Node, Bun), else a zero timeout. */
export const afterIO: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/**
 * Lets the process exit while `timer` is pending, where the timer is an object with `unref` (Node, Bun);
 * numeric timer ids (Deno, browsers) are left as they are. Returns the timer.
 */
export function unrefTimer<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
