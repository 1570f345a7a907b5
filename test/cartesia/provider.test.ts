import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { loadConfig } from '../../worker/ops/config.ts';
import { createLogger } from '../../worker/ops/logger.ts';
import { CartesiaProvider } from '../../worker/providers/cartesia/provider.ts';
import type { ContextOptions, ProviderEvent, TTSContext } from '../../worker/providers/provider.ts';
import { type CartesiaEmulator, startCartesiaEmulator } from '../support/cartesia-emulator.ts';
import { eventually, sleep } from '../support/eventually.ts';

const KEY = 'sk_car_PROVIDERSECRET_1234567890';
const F32: AudioFormat = { encoding: 'pcm_f32le', sampleRate: 44100 };

let emulator: CartesiaEmulator;
let provider: CartesiaProvider;
/** Raw log lines, before any redaction: the provider itself must never write the key. */
let logs: string[];

beforeAll(async () => {
  emulator = await startCartesiaEmulator({ apiKeys: [KEY] });
});

afterAll(async () => {
  await emulator.close();
});

function startProvider(env: Record<string, string> = {}): CartesiaProvider {
  logs = [];
  const config = loadConfig(
    { TTS_PROVIDER: 'cartesia', CARTESIA_API_KEY: KEY, CARTESIA_BASE_URL: emulator.url, CARTESIA_CA_FILE: emulator.caFile, CARTESIA_VOICE_ID: 'voice-a', ...env },
    () => 'generated-admin-key-0123456789',
  );
  provider = new CartesiaProvider(config.cartesia, createLogger({ level: 'debug', write: (line) => logs.push(line) }));
  return provider;
}

afterEach(async () => {
  await provider?.close();
  expect(logs.join('\n')).not.toContain(KEY);
  delete emulator.faults.chunkDelayMs;
});

async function collect(context: TTSContext, ms = 10_000): Promise<ProviderEvent[]> {
  const events: ProviderEvent[] = [];
  const timer = setTimeout(() => context.cancel(), ms);
  for await (const event of context.events) events.push(event);
  clearTimeout(timer);
  return events;
}

function open(options: Partial<ContextOptions> = {}): TTSContext {
  return provider.openContext({ format: F32, timestamps: true, buffering: 'relay', ...options });
}

const bytesOf = (events: ProviderEvent[]) => events.reduce((n, e) => n + (e.type === 'audio' ? e.data.byteLength : 0), 0);

function requestsSince(count: number) {
  return emulator.requestsOf().slice(count);
}

describe('CartesiaProvider contexts', () => {
  it('asks for the context’s format, voice, model, language and generation config, and fixes them for the context', async () => {
    startProvider({ CARTESIA_SPEED: '1.2' });
    const before = emulator.requestsOf().length;
    const context = open({ format: { encoding: 'pcm_mulaw', sampleRate: 8000 }, voice: 'voice-b', model: 'sonic-3', language: 'fr-FR', generation: { volume: 1.5, emotion: 'calm', bogus: 1 } });
    context.push('Bonjour à tous. ');
    context.end();
    const events = await collect(context);
    expect(events.at(-1)).toEqual({ type: 'done' });
    expect(bytesOf(events)).toBeGreaterThan(4000);
    // Text and its end known together go as one request, as a one-shot client sends it.
    const [first, ...more] = requestsSince(before);
    expect(more).toEqual([]);
    expect(first).toMatchObject({
      model_id: 'sonic-3',
      voice: 'voice-b',
      language: 'fr',
      output_format: { container: 'raw', encoding: 'pcm_mulaw', sample_rate: 8000 },
      generation_config: { speed: 1.2, volume: 1.5, emotion: 'calm' },
      continue: false,
      max_buffer_delay_ms: 0,
    });
    expect(first!.generation_config).not.toHaveProperty('bogus');
  });

  it('never sends an empty first transcript: leading whitespace waits, and a flush or end before any text stays local', async () => {
    startProvider();
    const before = emulator.requestsOf().length;
    const silent = open();
    silent.flush();
    silent.end();
    expect(await collect(silent)).toEqual([{ type: 'flush_done', flushId: 1 }, { type: 'done' }]);

    const context = open({ buffering: 'provider' });
    context.push(' ');
    context.push('\n');
    context.push('Words at last.');
    context.end();
    const events = await collect(context);
    expect(events.at(-1)).toEqual({ type: 'done' });
    const requests = requestsSince(before);
    expect(requests[0]).toMatchObject({ transcript: ' \nWords at last.', continue: false, max_buffer_delay_ms: 3000 });
    expect(requests.filter((r) => r.context_id === requests[0]!.context_id)).toHaveLength(1);
  });

  it('maps flush to a flush request and surfaces each flush_done with our flush id', async () => {
    startProvider();
    const context = open();
    context.flush(); // before any text: acknowledged locally as flush 1
    context.push('First part. ');
    context.flush();
    context.push('Second part. ');
    context.flush();
    context.end();
    const events = await collect(context);
    const flushes = events.filter((e) => e.type === 'flush_done');
    expect(flushes).toEqual([
      { type: 'flush_done', flushId: 1 },
      { type: 'flush_done', flushId: 2 },
      { type: 'flush_done', flushId: 3 },
    ]);
    // Audio of the first part comes before its flush_done.
    expect(events.findIndex((e) => e.type === 'audio')).toBeLessThan(events.findIndex((e) => e.type === 'flush_done' && e.flushId === 2));
  });

  it('cancel ends the events at once, sends a cancel request, and drops the late frames', async () => {
    startProvider();
    emulator.setFaults({ chunkDelayMs: 20 });
    const context = open();
    context.push('A long sentence that keeps the emulator busy for a while, chunk after chunk after chunk. ');
    context.end();
    const seen: ProviderEvent[] = [];
    for await (const event of context.events) {
      seen.push(event);
      if (seen.length === 2) context.cancel();
    }
    expect(seen).toHaveLength(2);
    const contextId = emulator.requestsOf().findLast((r) => typeof r.transcript === 'string' && r.transcript.startsWith('A long sentence'))?.context_id as string;
    await eventually(() => emulator.requestsOf(contextId).some((r) => r.cancel === true), 2000, 'cancel request');
    await eventually(() => logs.some((line) => line.includes('dropped a late Cartesia frame')), 2000, 'late frames dropped');
  });

  it('word timestamps are monotonic and within the audio; phoneme timestamps only when asked', async () => {
    startProvider();
    const plain = open({ format: { encoding: 'pcm_s16le', sampleRate: 22050 } });
    plain.push('No phonemes here. ');
    plain.end();
    expect((await collect(plain)).some((e) => e.type === 'phoneme_timestamps')).toBe(false);

    const context = open({ format: { encoding: 'pcm_s16le', sampleRate: 22050 }, phonemeTimestamps: true });
    context.push('Timing is everything. ');
    context.push('Even across pieces.');
    context.end();
    const events = await collect(context);
    const seconds = bytesOf(events) / 2 / 22050;
    const words = events.flatMap((e) => (e.type === 'timestamps' ? e.words : []));
    const phonemes = events.flatMap((e) => (e.type === 'phoneme_timestamps' ? e.phonemes : []));
    expect(words.map((w) => w.word)).toEqual(['Timing', 'is', 'everything', 'Even', 'across', 'pieces']);
    for (const spans of [words, phonemes]) {
      expect(spans.length).toBeGreaterThan(0);
      spans.forEach((span, i) => {
        expect(span.end).toBeGreaterThanOrEqual(span.start);
        expect(span.end).toBeLessThanOrEqual(seconds + 0.01);
        if (i > 0) expect(span.start).toBeGreaterThanOrEqual(spans[i - 1]!.start);
      });
    }
    expect(words.at(-1)!.end).toBeGreaterThan(seconds - 0.3);
  });

  it('multiplexes concurrent contexts over one socket, each getting only its own audio', async () => {
    startProvider({ CARTESIA_POOL_SIZE: '1' });
    await provider.ready();
    const connectionsBefore = emulator.stats.connections;
    const texts = ['First voice speaking.', 'Second voice, a little longer than the first.', 'Third.'];
    const contexts = texts.map((text) => {
      const context = open({ format: { encoding: 'pcm_s16le', sampleRate: 16000 } });
      context.push(text);
      context.end();
      return context;
    });
    const results = await Promise.all(contexts.map((c) => collect(c)));
    expect(emulator.stats.connections).toBe(connectionsBefore);
    results.forEach((events, i) => {
      expect(events.at(-1)).toEqual({ type: 'done' });
      expect(events.flatMap((e) => (e.type === 'timestamps' ? e.words.map((w) => w.word) : [])).join(' ')).toBe(texts[i]!.replace(/[.,]/g, ''));
    });
  });

  it('spills onto a second socket only when the first carries its share of contexts', async () => {
    startProvider({ CARTESIA_POOL_SIZE: '2', CARTESIA_CONTEXTS_PER_SOCKET: '1' });
    await provider.ready();
    const before = emulator.stats.connections;
    const contexts = [open(), open()];
    for (const context of contexts) {
      context.push('Two sockets now.');
      context.end();
    }
    await Promise.all(contexts.map((c) => collect(c)));
    expect(emulator.stats.connections - before).toBe(1);
    expect(provider.pool.openSockets).toBe(2);
  });

  it('spreads concurrent contexts over the pool, opening a socket in the background once every open one is busy', async () => {
    startProvider({ CARTESIA_POOL_SIZE: '3' });
    await provider.ready();
    const before = emulator.stats.connections;
    const requestsBefore = emulator.stats.requests.length;
    const contexts: TTSContext[] = [];
    const begin = () => {
      const context = open();
      context.push('Spread over the sockets.');
      contexts.push(context);
    };
    // The first context takes the idle socket; the second shares it (no handshake to wait for) while another opens.
    begin();
    begin();
    await eventually(() => provider.pool.openSockets === 2);
    // The third takes the new, idle socket; the fourth finds both busy, shares one, and a third socket opens.
    begin();
    await eventually(() => emulator.stats.requests.length >= requestsBefore + 3);
    expect(provider.pool.openSockets).toBe(2);
    begin();
    await eventually(() => provider.pool.openSockets === 3);
    for (const context of contexts) context.end();
    const results = await Promise.all(contexts.map((c) => collect(c)));
    for (const events of results) expect(events.at(-1)).toEqual({ type: 'done' });
    expect(emulator.stats.connections - before).toBe(2);
  });

  it('reports upstream_unavailable quickly when Cartesia cannot be reached', async () => {
    logs = [];
    const config = loadConfig({ TTS_PROVIDER: 'cartesia', CARTESIA_API_KEY: KEY, CARTESIA_BASE_URL: 'https://127.0.0.1:9', CARTESIA_MAX_WAIT_MS: '200' }, () => 'k'.repeat(20));
    provider = new CartesiaProvider(config.cartesia, createLogger({ level: 'debug', write: (line) => logs.push(line) }));
    await expect(provider.ready()).rejects.toMatchObject({ code: 'upstream_unavailable' });
    expect(provider.healthy()).toBe(false);
    const context = open();
    context.push('Nobody hears this.');
    context.end();
    const started = performance.now();
    const events = await collect(context);
    expect(events).toEqual([{ type: 'error', error: expect.objectContaining({ code: 'upstream_unavailable' }) }]);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a wrong key as upstream_error without retrying in a loop', async () => {
    logs = [];
    const config = loadConfig(
      { TTS_PROVIDER: 'cartesia', CARTESIA_API_KEY: 'sk_car_wrong_key_0000', CARTESIA_BASE_URL: emulator.url, CARTESIA_CA_FILE: emulator.caFile, CARTESIA_BACKOFF_BASE_MS: '200' },
      () => 'k'.repeat(20),
    );
    const before = emulator.stats.upgrades.length;
    provider = new CartesiaProvider(config.cartesia, createLogger({ level: 'debug', write: (line) => logs.push(line) }));
    await expect(provider.ready()).rejects.toMatchObject({ code: 'upstream_error', message: expect.stringMatching(/401/) });
    await sleep(400);
    expect(emulator.stats.upgrades.length - before).toBeLessThanOrEqual(3);
    expect(logs.join('\n')).not.toContain('sk_car_wrong_key_0000');
  });
});
