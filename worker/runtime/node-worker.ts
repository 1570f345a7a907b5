/** Node: a worker_threads Worker behind the neutral WorkerPort, running TypeScript and looking like a Web Worker. */
import { Worker } from 'node:worker_threads';
import type { WorkerPort } from './contract.ts';

/**
 * Registers tsx inside the thread, then imports the script. Node 20 ignores `--import tsx` in a worker's
 * execArgv (and the parent's registration does not reach its workers), so the thread registers it itself.
 */
const BOOTSTRAP = new URL('./node-worker-bootstrap.mjs', import.meta.url);

export function startNodeWorker(script: URL): WorkerPort {
  // No inherited flags: a parent's `--import tsx` would register tsx twice in the thread.
  const worker = new Worker(BOOTSTRAP, { workerData: { script: script.href }, execArgv: [] });
  let terminating = false;
  let reportError: (error: Error) => void = () => {};
  worker.on('error', (error: Error) => reportError(error));
  worker.on('messageerror', (error: Error) => reportError(error));
  worker.on('exit', (code) => {
    if (!terminating) reportError(new Error(`the worker thread exited with code ${code}`));
  });
  return {
    postMessage: (message, transfer) => worker.postMessage(message, transfer),
    onMessage: (handler) => worker.on('message', handler),
    onError: (handler) => (reportError = handler),
    async terminate() {
      terminating = true;
      await worker.terminate();
    },
  };
}
