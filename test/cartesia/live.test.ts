import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../worker/ops/config.ts';
import { createLogger } from '../../worker/ops/logger.ts';
import { CartesiaProvider } from '../../worker/providers/cartesia/provider.ts';
import type { ProviderEvent } from '../../worker/providers/provider.ts';
import { connectListener } from '../support/listener-client.ts';
import { startNodeRelay, type RunningRelay } from '../../worker/runtime/node.ts';

const KEY = process.env.CARTESIA_API_KEY;
const LIVE_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter((entry): entry is [string, string] => entry[0].startsWith('CARTESIA_') && entry[1] !== undefined),
);

let provider: CartesiaProvider | undefined;
let relay: RunningRelay | undefined;
const logs: string[] = [];

afterEach(async () => {
  await provider?.close();
  await relay?.close();
  provider = undefined;
  relay = undefined;
  if (KEY) expect(logs.join('\n')).not.toContain(KEY);
});

const SKIP_REASON = 'CARTESIA_API_KEY is not set: the live Cartesia tests need a real key';

describe('live Cartesia API', () => {
  it('speaks a continued utterance with monotonic word timestamps', async (test) => {
    test.skip(!KEY, SKIP_REASON);
    const config = loadConfig({ ...LIVE_ENV, TTS_PROVIDER: 'cartesia' }, () => 'live-admin-key-0123456789');
    provider = new CartesiaProvider(config.cartesia, createLogger({ level: 'debug', write: (line) => logs.push(line) }));
    await provider.ready();
    const context = provider.openContext({ format: { encoding: 'pcm_s16le', sampleRate: 24000 }, timestamps: true, buffering: 'relay' });
    context.push('Hello from the relay. ');
    context.push('This second sentence continues the same context.');
    context.flush();
    context.end();
    const events: ProviderEvent[] = [];
    for await (const event of context.events) events.push(event);
    expect(events.at(-1)).toEqual({ type: 'done' });
    const seconds = events.reduce((n, e) => n + (e.type === 'audio' ? e.data.byteLength : 0), 0) / 2 / 24000;
    expect(seconds).toBeGreaterThan(1.5);
    expect(events.some((e) => e.type === 'flush_done')).toBe(true);
    const words = events.flatMap((e) => (e.type === 'timestamps' ? e.words : []));
    expect(words.length).toBeGreaterThan(5);
    words.forEach((word, i) => {
      expect(word.end).toBeLessThanOrEqual(seconds + 0.05);
      if (i > 0) expect(word.start).toBeGreaterThanOrEqual(words[i - 1]!.start);
    });
  }, 30_000);

  it('plays through the relay to a listener', async (test) => {
    test.skip(!KEY, SKIP_REASON);
    relay = await startNodeRelay({ port: 0, host: '127.0.0.1', env: { ...LIVE_ENV, TTS_PROVIDER: 'cartesia', RELAY_ADMIN_KEY: 'live-admin-key-0123456789' }, writeLog: (line) => logs.push(line) });
    const listener = await connectListener(relay.url, 'live', { key: relay.adminKey });
    const response = await fetch(new URL('/v1/streams/live/speak?wait=true', relay.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${relay.adminKey}`, 'content-type': 'text/plain' },
      body: 'The relay speaks with a real Cartesia voice.',
    });
    expect(await response.json()).toMatchObject({ reason: 'done' });
    const end = await listener.waitFor((m) => m.type === 'utterance_end');
    expect(end).toMatchObject({ reason: 'done' });
    expect(listener.audioOf(1).byteLength).toBeGreaterThan(44100);
    listener.close();
  }, 30_000);
});
