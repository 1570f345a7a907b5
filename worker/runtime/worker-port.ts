/** A thread for CPU-bound work, as each runtime's entry starts it (`RuntimeAdapter.startWorker`). */

/**
 * The relay's side of a worker thread. The script it runs sees a Web Worker's global scope
 * (`onmessage`, `postMessage(message, transfer)`), whatever the runtime.
 */
export interface WorkerPort {
  /** Sends a structured-cloneable message; buffers listed in `transfer` move to the thread instead of being copied. */
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (message: unknown) => void): void;
  /** The thread could not start, threw outside any handler, or exited without being asked to. */
  onError(handler: (error: Error) => void): void;
  terminate(): Promise<void> | void;
}

/** Starts a worker thread on a module script (a TypeScript file URL); may throw where the runtime cannot. */
export type StartWorker = (script: URL) => WorkerPort;
