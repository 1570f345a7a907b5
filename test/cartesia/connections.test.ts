import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../worker/ops/config.ts';
import { createLogger } from '../../worker/ops/logger.ts';
import { CartesiaProvider } from '../../worker/providers/cartesia/provider.ts';
import type { ProviderEvent, TTSContext } from '../../worker/providers/provider.ts';
import { type CartesiaEmulator, startCartesiaEmulator } from '../support/cartesia-emulator.ts';
import { eventually } from '../support/eventually.ts';

const KEY = 'sk_car_POOLSECRET_abcdef012345';

let emulator: CartesiaEmulator;
let provider: CartesiaProvider | undefined;
let logs: string[] = [];

beforeAll(async () => {
  emulator = await startCartesiaEmulator({ apiKeys: [KEY] });
});

afterAll(async () => {
  await emulator.close();
});

afterEach(async () => {
  await provider?.close();
  provider = undefined;
  emulator.setIdleClose(300_000);
  expect(logs.join('\n')).not.toContain(KEY);
});

function startProvider(env: Record<string, string>): CartesiaProvider {
  logs = [];
  const config = loadConfig(
    { TTS_PROVIDER: 'cartesia', CARTESIA_API_KEY: KEY, CARTESIA_BASE_URL: emulator.url, CARTESIA_CA_FILE: emulator.caFile, ...env },
    () => 'generated-admin-key-0123456789',
  );
  provider = new CartesiaProvider(config.cartesia, createLogger({ level: 'debug', write: (line) => logs.push(line) }));
  return provider;
}

async function speak(text: string): Promise<ProviderEvent[]> {
  const context: TTSContext = provider!.openContext({ format: { encoding: 'pcm_s16le', sampleRate: 16000 } });
  context.push(text);
  context.end();
  const events: ProviderEvent[] = [];
  for await (const event of context.events) events.push(event);
  return events;
}

const closesSince = (count: number) => emulator.stats.closes.slice(count);

describe('Cartesia connection management', () => {
  it('recycles an idle socket before Cartesia’s idle close, keeping a fresh one warm', async () => {
    const closesBefore = emulator.stats.closes.length;
    const connectionsBefore = emulator.stats.connections;
    startProvider({ CARTESIA_RECYCLE_IDLE_MS: '300' });
    expect((await speak('Before recycling.')).at(-1)).toEqual({ type: 'done' });
    // From here on (a busy machine's synthesis could outlast an idle clock running since the utterance's request).
    emulator.setIdleClose(1200);
    const recycled = () => closesSince(closesBefore).filter((c) => c.by === 'client' && c.reason === 'recycled').length;
    await eventually(() => recycled() >= 2, 6000, 'two recycled sockets');
    expect(closesSince(closesBefore).filter((c) => c.reason === 'connection idle timeout')).toEqual([]);
    await eventually(() => provider!.pool.openSockets === 1, 3000, 'a warm socket');
    expect((await speak('After recycling.')).at(-1)).toEqual({ type: 'done' });
    expect(emulator.stats.connections - connectionsBefore).toBeGreaterThanOrEqual(3);
  });

  it('does not recycle a socket while a context is on it', async () => {
    startProvider({ CARTESIA_RECYCLE_IDLE_MS: '100' });
    emulator.setFaults({ chunkDelayMs: 20 });
    const closesBefore = emulator.stats.closes.length;
    try {
      const events = await speak('Longer than the recycle time.');
      expect(events.at(-1)).toEqual({ type: 'done' });
    } finally {
      delete emulator.faults.chunkDelayMs;
    }
    const recycledDuring = closesSince(closesBefore).filter((c) => c.reason === 'recycled');
    // The one socket that carried the context was closed only after it finished (if at all).
    expect(recycledDuring.length).toBeLessThanOrEqual(1);
  });

  it('reconnects after a drop with exponential backoff and jitter, and is unhealthy meanwhile', async () => {
    startProvider({ CARTESIA_BACKOFF_BASE_MS: '100', CARTESIA_BACKOFF_MAX_MS: '5000' });
    await provider!.ready();
    const upgradesBefore = emulator.stats.upgrades.length;
    emulator.setFaults({ rejectUpgrades: { status: 503, times: 4 } });
    emulator.dropConnections();
    await eventually(() => emulator.stats.upgrades.length - upgradesBefore === 1, 2000, 'the first reconnect');
    expect(provider!.healthy()).toBe(false);
    await eventually(() => emulator.stats.upgrades.length - upgradesBefore === 5, 5000, 'five reconnects');
    await eventually(() => provider!.pool.openSockets === 1, 2000, 'an open socket');
    expect(provider!.healthy()).toBe(true);

    const attempts = emulator.stats.upgrades.slice(upgradesBefore);
    expect(attempts.map((a) => a.status)).toEqual([503, 503, 503, 503, 101]);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    // Attempt n waits base·2^(n-1) scaled by a random 0.5–1 (plus handshake time, generous under load).
    gaps.forEach((gap, i) => {
      const ceiling = 100 * 2 ** (i + 1);
      expect(gap).toBeGreaterThanOrEqual(ceiling / 2 - 5);
      expect(gap).toBeLessThanOrEqual(ceiling + 250);
    });
    expect((await speak('Back again.')).at(-1)).toEqual({ type: 'done' });
  });

  it('a drop with no context on the socket loses nothing and warms a new one', async () => {
    startProvider({ CARTESIA_BACKOFF_BASE_MS: '20' });
    await provider!.ready();
    const before = emulator.stats.connections;
    emulator.dropConnections();
    await eventually(() => emulator.stats.connections === before + 1 && provider!.pool.openSockets === 1, 3000, 'a warm socket');
    expect((await speak('Still here.')).at(-1)).toEqual({ type: 'done' });
    expect(logs.some((line) => line.includes('Cartesia connection dropped'))).toBe(true);
  });
});
