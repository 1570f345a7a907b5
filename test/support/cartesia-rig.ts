/**
 * A relay on the Cartesia provider (the real SDK) against the emulator, with real listeners: the rig for
 * end-to-end Cartesia tests. Every log line the relay writes is kept, to assert what it says (and never says).
 */
import type { SpeakCompleted } from '../../shared/api.ts';
import { type RunningRelay, startNodeRelay } from '../../worker/runtime/node.ts';
import type { CartesiaProvider } from '../../worker/providers/cartesia/provider.ts';
import { type CartesiaEmulator, type EmulatorOptions, startCartesiaEmulator } from './cartesia-emulator.ts';
import { connectListener, type RecordedListener } from './listener-client.ts';

export { eventually, sleep } from './eventually.ts';

export const RIG_ADMIN_KEY = 'rig-admin-key-0123456789abcdef';
/** Distinctive, so a grep for it is meaningful. */
export const RIG_CARTESIA_KEY = 'sk_car_RIGSECRET_7f3a9c2e1b4d6f80';

export interface CartesiaRig {
  emulator: CartesiaEmulator;
  relay: RunningRelay;
  provider: CartesiaProvider;
  /** Every line the relay logged. */
  logs: string[];
  /** Every HTTP response the rig received: status, headers and body text. */
  responses: string[];
  listen(stream: string, query?: Record<string, string>): Promise<RecordedListener>;
  /** POST text (or a stream of it) to a stream's speak route. */
  speak(stream: string, body: BodyInit, query?: string, contentType?: string): Promise<Response>;
  /** speak?wait=true, answered when the utterance is complete. */
  speakAndWait(stream: string, text: string): Promise<SpeakCompleted>;
  cancel(stream: string): Promise<void>;
  get(path: string): Promise<Response>;
  close(): Promise<void>;
}

export interface RigOptions {
  emulator?: EmulatorOptions;
  /** Relay environment on top of the rig's (short timeouts, no playout pacing). */
  env?: Record<string, string>;
  /** Start against an emulator that already runs (e.g. to keep its stats across relays). */
  existingEmulator?: CartesiaEmulator;
}

export async function startCartesiaRig(options: RigOptions = {}): Promise<CartesiaRig> {
  const emulator = options.existingEmulator ?? (await startCartesiaEmulator({ apiKeys: [RIG_CARTESIA_KEY], ...options.emulator }));
  const logs: string[] = [];
  const relay = await startNodeRelay({
    port: 0,
    host: '127.0.0.1',
    writeLog: (line) => logs.push(line),
    env: { ...rigEnvironment(emulator), ...options.env },
  });
  const responses: string[] = [];
  const speak = (stream: string, body: BodyInit, query?: string, contentType = 'text/plain') => {
    const streaming = body instanceof ReadableStream;
    return request(`/v1/streams/${stream}/speak${query ? `?${query}` : ''}`, {
      method: 'POST',
      body,
      headers: { 'content-type': contentType },
      ...(streaming ? ({ duplex: 'half' } as object) : {}),
    });
  };
  const listeners: RecordedListener[] = [];
  const request = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${RIG_ADMIN_KEY}`);
    const response = await fetch(new URL(path, relay.url), { ...init, headers });
    const text = await response.clone().text();
    responses.push(`${response.status} ${JSON.stringify([...response.headers])} ${text}`);
    return response;
  };
  return {
    emulator,
    relay,
    provider: relay.relay.provider as CartesiaProvider,
    logs,
    responses,
    async listen(stream, query) {
      const listener = await connectListener(relay.url, stream, { key: RIG_ADMIN_KEY, ...(query ? { query } : {}) });
      listeners.push(listener);
      await listener.waitFor((m) => m.type === 'hello');
      return listener;
    },
    speak,
    async speakAndWait(stream, text) {
      const response = await speak(stream, text, 'wait=true');
      return (await response.json()) as SpeakCompleted;
    },
    async cancel(stream) {
      await request(`/v1/streams/${stream}/cancel`, { method: 'POST' });
    },
    get(path) {
      return request(path);
    },
    async close() {
      for (const listener of listeners) listener.close();
      await relay.close();
      if (!options.existingEmulator) await emulator.close();
    },
  };
}

/** The relay's environment for the rig: the emulator as Cartesia, short timeouts, no playout pacing. */
function rigEnvironment(emulator: CartesiaEmulator): Record<string, string> {
  return {
    TTS_PROVIDER: 'cartesia',
    CARTESIA_API_KEY: RIG_CARTESIA_KEY,
    CARTESIA_BASE_URL: emulator.url,
    CARTESIA_CA_FILE: emulator.caFile,
    CARTESIA_VOICE_ID: 'rig-voice',
    RELAY_ADMIN_KEY: RIG_ADMIN_KEY,
    LOG_LEVEL: 'debug',
    // Audio goes out as fast as it comes: the tests measure the provider, not real-time pacing.
    RELAY_PLAYOUT_LEAD_MS: '3600000',
    RELAY_PROVIDER_TIMEOUT_MS: '8000',
    CARTESIA_CONTEXT_TIMEOUT_MS: '5000',
    CARTESIA_BACKOFF_BASE_MS: '50',
    CARTESIA_BACKOFF_MAX_MS: '1000',
    CARTESIA_CONNECT_TIMEOUT_MS: '3000',
    CARTESIA_MAX_WAIT_MS: '3000',
    CARTESIA_RATE_LIMIT_COOLDOWN_MS: '300',
  };
}
