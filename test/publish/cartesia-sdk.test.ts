import { createRequire } from 'node:module';
import type { Cartesia as CartesiaClient } from '@cartesia/cartesia-js';
import type { WebsocketResponse } from '@cartesia/cartesia-js/resources/tts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListenerMessage } from '../../shared/protocol.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';
import { connectTLSListener, TEST_CA, TEST_CERT_FILE, TEST_KEY_FILE, type TLSListener } from './tls-listener.ts';

// The SDK's ESM build finds no `ws` under Node 20; applications load its CommonJS build, and so do we.
const { Cartesia } = createRequire(import.meta.url)('@cartesia/cartesia-js') as { Cartesia: typeof CartesiaClient };

// A voice id as an application would send it; the embedded engine falls back to its default voice.
const VOICE = { mode: 'id', id: 'a0e99841-438c-4a64-b679-ae501e7d6091' } as const;
const FORMAT = { container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 } as const;

let relay: TestRelay;
const closers: Array<() => void> = [];

beforeEach(async () => {
  relay = await startTestRelay({ TLS_CERT_FILE: TEST_CERT_FILE, TLS_KEY_FILE: TEST_KEY_FILE });
});

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await relay.close();
});

async function listen(stream: string): Promise<TLSListener> {
  const listener = await connectTLSListener(relay.url, stream, TEST_ADMIN_KEY, { encoding: FORMAT.encoding, sample_rate: String(FORMAT.sample_rate) });
  closers.push(() => listener.close());
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

/** Exactly what an application does: a client with the relay as base URL and a relay key as its API key. */
async function sdkSocket(baseURL: string) {
  const client = new Cartesia({ apiKey: TEST_ADMIN_KEY, baseURL });
  const ws = await client.tts.websocket({ ca: TEST_CA });
  const errors: unknown[] = [];
  ws.on('error', (error) => errors.push(error));
  closers.push(() => ws.close());
  return { ws, errors };
}

const isEnd = (m: ListenerMessage): m is Extract<ListenerMessage, { type: 'utterance_end' }> => m.type === 'utterance_end';

describe('the Cartesia SDK against /tts/websocket over TLS', () => {
  it('serves https and wss when given a certificate', () => {
    expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('streams a context to the SDK and to the stream listener: chunks, timestamps, flush_done and done, the same PCM', async () => {
    const listener = await listen('sdk');
    const { ws, errors } = await sdkSocket(`${relay.url}/cartesia/sdk`);
    const ctx = ws.context({ model_id: 'sonic-3', voice: VOICE, output_format: FORMAT, add_timestamps: true });
    await ctx.push({ transcript: 'Hello from the Cartesia SDK, ' });
    await ctx.push({ transcript: 'spoken through the relay.', flush: true });
    await ctx.push({ transcript: ' And a last sentence after the flush.' });
    await ctx.no_more_inputs();

    const events: WebsocketResponse[] = [];
    await within(
      (async () => {
        for await (const event of ctx.receive()) events.push(event);
      })(),
      20_000,
      'SDK receive()',
    );
    const types = events.map((e) => e.type);
    expect(types.at(-1)).toBe('done');
    expect(types.filter((t) => t === 'flush_done')).toHaveLength(1);
    expect(types).toContain('timestamps');
    const chunks = events.filter((e): e is WebsocketResponse.Chunk => e.type === 'chunk');
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.context_id === ctx.contextId && c.status_code === 206 && c.done === false && c.audio instanceof Uint8Array)).toBe(true);
    // Audio for text before the flush carries flush_id 1, after it 2.
    expect(chunks[0]!.flush_id).toBe(1);
    expect(chunks.at(-1)!.flush_id).toBe(2);
    expect(errors).toEqual([]);

    const end = (await listener.waitFor(isEnd)) as Extract<ListenerMessage, { type: 'utterance_end' }>;
    expect(end.reason).toBe('done');
    // The same word times as the listener's, in Cartesia's parallel-array shape.
    const words = events.flatMap((e) => (e.type === 'timestamps' ? (e.word_timestamps?.words ?? []) : []));
    const heard = listener.messages.flatMap((m) => (m.type === 'timestamps' ? m.words.map((w) => w.word) : []));
    expect(words).toEqual(heard);
    expect(words).toEqual(expect.arrayContaining(['Hello', 'Cartesia', 'relay', 'flush']));
    const sdkAudio = Buffer.concat(chunks.map((c) => c.audio!));
    const listenerAudio = listener.audioOf(end.utterance);
    expect(sdkAudio.byteLength).toBeGreaterThan(24000 * 2 * 2);
    expect(sdkAudio.equals(listenerAudio)).toBe(true);
    expect(end.samples).toBe(sdkAudio.byteLength / 2);
  });

  it('answers a one-shot generate() on the default stream, which a listener of it hears', async () => {
    const listener = await listen('default');
    const { ws } = await sdkSocket(relay.url);
    const events: WebsocketResponse[] = [];
    for await (const event of ws.generate({ model_id: 'sonic-3', transcript: 'One request, the whole utterance.', voice: VOICE, output_format: FORMAT })) events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'done', done: true, status_code: 206 });
    expect(events.some((e) => e.type === 'timestamps')).toBe(false);
    const end = (await listener.waitFor(isEnd)) as Extract<ListenerMessage, { type: 'utterance_end' }>;
    const sdkAudio = Buffer.concat(events.flatMap((e) => (e.type === 'chunk' ? [e.audio!] : [])));
    expect(sdkAudio.equals(listener.audioOf(end.utterance))).toBe(true);
  });

  it('cancels a context: listeners get utterance_end cancelled and no more of its audio', async () => {
    const listener = await listen('sdk-cancel');
    const { ws } = await sdkSocket(`${relay.url}/cartesia/sdk-cancel`);
    const ctx = ws.context({ model_id: 'sonic-3', voice: VOICE, output_format: FORMAT });
    await ctx.push({ transcript: 'This context is cancelled after its first audio, long before this sentence is over. ' });
    const first = await within(
      (async () => {
        for await (const event of ctx.receive()) if (event.type === 'chunk') return event;
        return null;
      })(),
      10_000,
      'first chunk',
    );
    expect(first?.context_id).toBe(ctx.contextId);
    await ctx.cancel();
    const end = (await listener.waitFor(isEnd)) as Extract<ListenerMessage, { type: 'utterance_end' }>;
    expect(end.reason).toBe('cancelled');
    const framesAtEnd = listener.frames.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(listener.frames.length).toBe(framesAtEnd);
  });
});
