/**
 * `deno serve` and Deno Deploy entry: a default export `{ fetch }` over the same relay as deno.ts.
 * `deno serve --config worker/deno.json --allow-net --allow-env --allow-read --port 8787 worker/runtime/deno-serve.ts`
 * (the port comes from `--port`, not PORT; each `--parallel` worker is a separate relay). `deno serve`
 * answers SIGTERM itself by closing every socket at once (1001): for a drain that lets utterances finish,
 * run deno.ts instead.
 */
import { announceStart, localUrl } from './lifecycle.ts';
import { createDenoRelay, denoRuntime, exitOnDenoSignals, socketsClosed, writeStderr } from './deno.ts';

const instance = await createDenoRelay();

exitOnDenoSignals(instance, {
  // The listener belongs to `deno serve`; the relay refuses new work (503 shutting_down) instead.
  stopListening: () => {},
  closeConnections: socketsClosed,
});

export default {
  fetch: instance.app.fetch,
  onListen: (addr) => announceStart(instance, addr.transport === 'tcp' ? localUrl(addr.hostname, addr.port) : 'unix socket', denoRuntime.name!, writeStderr),
} satisfies Deno.ServeDefaultExport;
