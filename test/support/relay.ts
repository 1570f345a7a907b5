/** Starts a real relay on a free port for a test and gives typed helpers for its HTTP API. */
import { startNodeRelay, type RunningRelay } from '../../worker/runtime/node.ts';
import { connectListener, type RecordedListener } from './listener-client.ts';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789';

export interface TestRelay extends RunningRelay {
  /** fetch against the relay with the admin key unless headers say otherwise. */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /** POST text to a stream's speak route. */
  speak(stream: string, body: BodyInit, init?: { query?: string; contentType?: string; key?: string | null }): Promise<Response>;
  /** A listener with the admin key, past its `hello`; closed when the relay closes. */
  listen(stream: string, query?: Record<string, string>): Promise<RecordedListener>;
}

export async function startTestRelay(env: Record<string, string> = {}): Promise<TestRelay> {
  const relay = await startNodeRelay({
    port: 0,
    host: '127.0.0.1',
    quiet: true,
    env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: TEST_ADMIN_KEY, ...env },
  });
  const request = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const { key = TEST_ADMIN_KEY, headers, ...rest } = init;
    const all = new Headers(headers);
    if (key !== null && !all.has('authorization')) all.set('authorization', `Bearer ${key}`);
    return fetch(new URL(path, relay.url), { ...rest, headers: all });
  };
  const listeners: RecordedListener[] = [];
  const closeRelay = relay.close.bind(relay);
  return Object.assign(relay, {
    request,
    async listen(stream: string, query?: Record<string, string>) {
      const listener = await connectListener(relay.url, stream, { key: TEST_ADMIN_KEY, ...(query ? { query } : {}) });
      listeners.push(listener);
      await listener.waitFor((m) => m.type === 'hello');
      return listener;
    },
    async close() {
      for (const listener of listeners.splice(0)) listener.close();
      await closeRelay();
    },
    speak(stream: string, body: BodyInit, init: { query?: string; contentType?: string; key?: string | null } = {}) {
      const headers: Record<string, string> = { 'content-type': init.contentType ?? 'text/plain' };
      const streaming = body instanceof ReadableStream;
      return request(`/v1/streams/${stream}/speak${init.query ? `?${init.query}` : ''}`, {
        method: 'POST',
        body,
        headers,
        ...(init.key !== undefined ? { key: init.key } : {}),
        ...(streaming ? ({ duplex: 'half' } as object) : {}),
      });
    },
  });
}

/** Rejects if `promise` does not settle within `ms`, so no test hangs. */
export function within<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms))),
  ]);
}

/** A request body the test feeds piece by piece, like a slow producer. */
export function controlledBody(): { body: ReadableStream<Uint8Array>; write(text: string): void; end(): void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const encoder = new TextEncoder();
  return { body, write: (text) => controller.enqueue(encoder.encode(text)), end: () => controller.close() };
}
