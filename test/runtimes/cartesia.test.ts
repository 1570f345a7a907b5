/** The Cartesia provider (the SDK over TLS, against the emulator) in a relay process on each runtime. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { type CartesiaEmulator, startCartesiaEmulator } from '../support/cartesia-emulator.ts';
import { connectListener, isEnd } from '../support/listener-client.ts';
import { within } from '../support/relay.ts';
import { RUNTIMES, startRelayProcess } from './relay-process.ts';

const KEY = 'cartesia-runtime-admin-key-01';
const CARTESIA_KEY = 'sk_car_runtime_test_0123456789';

let emulator: CartesiaEmulator;

beforeAll(async () => {
  emulator = await startCartesiaEmulator({ apiKeys: [CARTESIA_KEY] });
});

afterAll(async () => {
  await emulator?.close();
});

describe.each(RUNTIMES)('the Cartesia provider under %s', (runtime) => {
  it('speaks an utterance through the emulator to a listener', async () => {
    const relay = await startRelayProcess(runtime, {
      RELAY_ADMIN_KEY: KEY,
      TTS_PROVIDER: 'cartesia',
      CARTESIA_API_KEY: CARTESIA_KEY,
      CARTESIA_BASE_URL: emulator.url,
      CARTESIA_CA_FILE: emulator.caFile,
      CARTESIA_VOICE_ID: 'runtime-test-voice',
    });
    const listener = await connectListener(relay.url, 'cartesia', { key: KEY });
    try {
      await listener.waitFor((m) => m.type === 'hello');
      const response = await fetch(new URL('/v1/streams/cartesia/speak?wait=true', relay.url), {
        method: 'POST',
        body: 'Hello through Cartesia, on every runtime.',
        headers: { authorization: `Bearer ${KEY}` },
      });
      const result = (await response.json()) as SpeakCompleted;
      expect(result.reason).toBe('done');
      await within(listener.waitFor(isEnd), 10_000, 'utterance end');
      expect(listener.audioOf(result.utterance).byteLength).toBeGreaterThan(10_000);
      const ready = await fetch(new URL('/readyz', relay.url));
      expect(await ready.json()).toMatchObject({ provider: 'cartesia', provider_healthy: true });
    } finally {
      listener.close();
      await relay.kill();
    }
  });
});
