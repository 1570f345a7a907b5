/** Bun and Deno: a module Web Worker behind the neutral WorkerPort. */
import type { WorkerPort } from './contract.ts';

export function startWebWorker(script: URL): WorkerPort {
  const worker = new Worker(script, { type: 'module' });
  let reportError: (error: Error) => void = () => {};
  worker.addEventListener('error', (event) => {
    // Unhandled, Deno rethrows a worker's error in the parent and ends the process.
    event.preventDefault();
    reportError(event.error instanceof Error ? event.error : new Error(event.message || 'the worker failed'));
  });
  worker.addEventListener('messageerror', () => reportError(new Error('a message from the worker could not be deserialized')));
  return {
    postMessage: (message, transfer = []) => worker.postMessage(message, transfer),
    onMessage: (handler) => worker.addEventListener('message', (event) => handler(event.data)),
    onError: (handler) => (reportError = handler),
    terminate: () => worker.terminate(),
  };
}
