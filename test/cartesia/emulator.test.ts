import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type CartesiaEmulator, EMULATOR_API_KEY, startCartesiaEmulator } from '../support/cartesia-emulator.ts';

const TOKEN = 'emulator-access-token-0123';
const FORMAT = { container: 'raw', encoding: 'pcm_s16le', sample_rate: 16000 };
const BASE = { model_id: 'sonic-3.5', voice: 'a-voice-id', output_format: FORMAT, language: 'en' };

let emulator: CartesiaEmulator;

beforeAll(async () => {
  emulator = await startCartesiaEmulator({ accessTokens: [TOKEN], chunkMs: 100 });
});

afterAll(async () => {
  await emulator.close();
});

interface RawClient {
  frames: Array<Record<string, unknown>>;
  send(request: Record<string, unknown>): void;
  next(predicate: (frame: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** A bare ws client, to see exactly what the emulator accepts and answers. */
async function connect(options: { headers?: Record<string, string>; query?: Record<string, string>; version?: string | null } = {}): Promise<RawClient> {
  const url = new URL(emulator.wssUrl);
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const version = options.version === undefined ? '2026-08-14' : options.version;
  const headers = { ...(version ? { 'cartesia-version': version } : {}), ...options.headers };
  const ws = new WebSocket(url, { headers, ca: emulator.ca });
  const frames: Array<Record<string, unknown>> = [];
  const watchers = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
    for (const watch of watchers) watch();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return {
    frames,
    send: (request) => ws.send(JSON.stringify(request)),
    next(predicate, ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = frames.find(predicate);
          if (!found) return false;
          watchers.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`no matching frame in ${ms} ms; got ${frames.map((f) => f.type).join(',')}`));
        }, ms);
        if (!check()) watchers.add(check);
      });
    },
    closed,
    close: () => ws.close(),
  };
}

async function refusal(options: Parameters<typeof connect>[0]): Promise<{ status: number; body: Record<string, unknown>; retryAfter?: string }> {
  const url = new URL(emulator.wssUrl);
  for (const [k, v] of Object.entries(options?.query ?? {})) url.searchParams.set(k, v);
  const version = options?.version === undefined ? '2026-08-14' : options.version;
  const ws = new WebSocket(url, { headers: { ...(version ? { 'cartesia-version': version } : {}), ...options?.headers }, ca: emulator.ca });
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('upgrade accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(body) as Record<string, unknown>,
          ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}),
        }),
      );
    });
  });
}

const ofContext = (id: string, type: string) => (f: Record<string, unknown>) => f.context_id === id && f.type === type;

describe('Cartesia emulator: connecting', () => {
  it('accepts the key as Authorization: Bearer, X-API-Key, ?api_key= and a token as ?access_token=', async () => {
    const clients = [
      await connect({ headers: { authorization: `Bearer ${EMULATOR_API_KEY}` } }),
      await connect({ headers: { 'x-api-key': EMULATOR_API_KEY } }),
      await connect({ query: { api_key: EMULATOR_API_KEY } }),
      await connect({ query: { access_token: TOKEN } }),
      await connect({ query: { api_key: EMULATOR_API_KEY, cartesia_version: '2026-08-14' }, version: null }),
    ];
    expect(emulator.stats.upgrades.slice(-5).map((u) => [u.auth, u.status])).toEqual([
      ['bearer', 101],
      ['x-api-key', 101],
      ['api_key', 101],
      ['access_token', 101],
      ['api_key', 101],
    ]);
    for (const client of clients) client.close();
  });

  it('refuses a wrong or missing key with 401 and a missing cartesia-version with 400', async () => {
    expect(await refusal({ headers: { authorization: 'Bearer nope' } })).toMatchObject({ status: 401, body: { title: 'Unauthorized' } });
    expect(await refusal({})).toMatchObject({ status: 401 });
    expect(await refusal({ headers: { 'x-api-key': EMULATOR_API_KEY }, version: null })).toMatchObject({ status: 400 });
  });

  it('refuses upgrades with 429 and Retry-After while a fault asks it to', async () => {
    emulator.setFaults({ rejectUpgrades: { status: 429, times: 1, retryAfterSeconds: 7 } });
    expect(await refusal({ headers: { 'x-api-key': EMULATOR_API_KEY } })).toMatchObject({ status: 429, retryAfter: '7' });
    const client = await connect({ headers: { 'x-api-key': EMULATOR_API_KEY } });
    client.close();
  });

  it('closes a socket idle for the configured time with 1000 "connection idle timeout"', async () => {
    emulator.setIdleClose(150);
    try {
      const client = await connect({ headers: { 'x-api-key': EMULATOR_API_KEY } });
      expect(await client.closed).toEqual({ code: 1000, reason: 'connection idle timeout' });
    } finally {
      emulator.setIdleClose(300_000);
    }
  });
});

describe('Cartesia emulator: generating', () => {
  let client: RawClient;

  beforeAll(async () => {
    client = await connect({ headers: { authorization: `Bearer ${EMULATOR_API_KEY}` } });
  });

  afterAll(() => client.close());

  it('continues a context across pushes and answers chunk, timestamps, flush_done and done', async () => {
    const id = 'ctx-continue';
    client.send({ ...BASE, context_id: id, transcript: 'Stay hungry, ', continue: true, add_timestamps: true, max_buffer_delay_ms: 0 });
    client.send({ ...BASE, context_id: id, transcript: '', continue: true, flush: true, add_timestamps: true, max_buffer_delay_ms: 0 });
    client.send({ ...BASE, context_id: id, transcript: 'stay foolish.', continue: true, add_timestamps: true, max_buffer_delay_ms: 0 });
    client.send({ ...BASE, context_id: id, transcript: '', continue: false, add_timestamps: true, max_buffer_delay_ms: 0 });
    await client.next(ofContext(id, 'done'));
    const frames = client.frames.filter((f) => f.context_id === id);
    const chunk = frames.find((f) => f.type === 'chunk')!;
    expect(chunk).toMatchObject({ type: 'chunk', done: false, status_code: 206, flush_id: 1, context_id: id });
    expect(typeof chunk.data).toBe('string');
    expect(typeof chunk.step_time).toBe('number');
    expect(Buffer.from(chunk.data as string, 'base64').byteLength % 2).toBe(0);
    expect(frames.find((f) => f.type === 'flush_done')).toMatchObject({ flush_done: true, flush_id: 1, done: false });
    // Chunks after the flush carry the next flush id.
    const flushAt = frames.findIndex((f) => f.type === 'flush_done');
    expect(frames.slice(flushAt).filter((f) => f.type === 'chunk').every((f) => f.flush_id === 2)).toBe(true);
    const words = frames.filter((f) => f.type === 'timestamps').flatMap((f) => (f.word_timestamps as { words: string[] }).words);
    expect(words.join(' ')).toMatch(/Stay hungry stay foolish/);
    expect(frames.at(-1)).toEqual({ type: 'done', done: true, status_code: 206, context_id: id });
  });

  it('answers version-2026 error frames for invalid requests', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['e-empty', { ...BASE, transcript: '', continue: true }, /first transcript/],
      ['e-blank', { ...BASE, transcript: '   ', continue: true }, /first transcript/],
      ['e-model', { ...BASE, model_id: undefined, transcript: 'Hi there.' }, /model_id is required/],
      ['e-voice', { ...BASE, voice: undefined, transcript: 'Hi there.' }, /voice is required/],
      ['e-encoding', { ...BASE, output_format: { ...FORMAT, encoding: 'pcm_u8' }, transcript: 'Hi there.' }, /Unsupported encoding/],
      ['e-rate', { ...BASE, output_format: { ...FORMAT, sample_rate: 11025 }, transcript: 'Hi there.' }, /Unsupported sample_rate/],
      ['e-container', { ...BASE, output_format: { ...FORMAT, container: 'mp3' }, transcript: 'Hi there.' }, /raw/],
      ['e-delay', { ...BASE, max_buffer_delay_ms: 9000, transcript: 'Hi there.' }, /max_buffer_delay_ms/],
      ['e-speed', { ...BASE, generation_config: { speed: 3 }, transcript: 'Hi there.' }, /speed/],
    ];
    for (const [id, request] of cases) client.send({ ...request, context_id: id });
    for (const [id, , message] of cases) {
      const error = await client.next(ofContext(id, 'error'));
      expect(error).toMatchObject({ type: 'error', done: true, status_code: 400, title: expect.any(String), context_id: id });
      expect(error.message).toMatch(message);
      expect(error).toHaveProperty('error_code');
      expect(typeof error.request_id).toBe('string');
    }
  });

  it('keeps settings fixed within a context', async () => {
    const id = 'ctx-fixed';
    client.send({ ...BASE, context_id: id, transcript: 'One sentence here. ', continue: true });
    client.send({ ...BASE, voice: 'another-voice', context_id: id, transcript: 'And another.', continue: true });
    const error = await client.next(ofContext(id, 'error'));
    expect(error.message).toMatch(/stay the same/);
  });

  it('stops a cancelled context after the chunks already generated', async () => {
    const id = 'ctx-cancel';
    emulator.setFaults({ chunkDelayMs: 30 });
    client.send({ ...BASE, context_id: id, transcript: 'This sentence is long enough to take a good number of chunks to send out.', continue: false });
    await client.next(ofContext(id, 'chunk'));
    client.send({ context_id: id, cancel: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    delete emulator.faults.chunkDelayMs;
    const chunks = client.frames.filter(ofContext(id, 'chunk')).length;
    expect(chunks).toBeLessThan(10);
    expect(client.frames.some(ofContext(id, 'done'))).toBe(false);
  });
});

describe('Cartesia emulator: older API versions', () => {
  it('answers errors as a single string before 2026-03-01', async () => {
    const client = await connect({ headers: { 'x-api-key': EMULATOR_API_KEY }, version: '2024-11-13' });
    client.send({ ...BASE, context_id: 'old', transcript: '' });
    const error = await client.next(ofContext('old', 'error'));
    expect(error).toMatchObject({ type: 'error', done: true, status_code: 400, error: expect.stringMatching(/Invalid request: /) });
    expect(error).not.toHaveProperty('title');
    client.close();
  });
});
