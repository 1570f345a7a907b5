/**
 * The same end-to-end smoke suite against a relay process started under Bun, Deno and Node: speak over
 * HTTP, two listeners with identical audio, cancel, a bad credential refused, a quiet streaming upload,
 * a listener that stops reading, and the metrics that count all of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SpeakCompleted } from '../../shared/api.ts';
import { connectListener, isEnd, isStart, type RecordedListener, refusedUpgrade } from '../support/listener-client.ts';
import { untilReady } from '../support/readiness.ts';
import { controlledBody, within } from '../support/relay.ts';
import { parseMetrics } from './prometheus.ts';
import { type RelayProcess, RUNTIMES, runRelayToExit, runtimeVersion, startRelayProcess } from './relay-process.ts';

const KEY = 'smoke-admin-key-0123456789';
const LONG_TEXT = Array.from({ length: 12 }, (_, i) => `This is sentence ${i + 1} of a long announcement that goes on for a while.`).join(' ');
/** Bun ends a request that is quiet for 10 s unless the relay lifts the timeout; the upload pauses longer. */
const QUIET_UPLOAD_PAUSE_MS = 11_000;

function client(relay: RelayProcess) {
  const request = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const { key = KEY, headers, ...rest } = init;
    const all = new Headers(headers);
    if (key !== null) all.set('authorization', `Bearer ${key}`);
    return fetch(new URL(path, relay.url), { ...rest, headers: all });
  };
  const speak = (stream: string, body: BodyInit, query = '') =>
    request(`/v1/streams/${stream}/speak${query ? `?${query}` : ''}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain' },
      ...(body instanceof ReadableStream ? ({ duplex: 'half' } as object) : {}),
    });
  return { request, speak };
}

describe.each(RUNTIMES)('the relay under %s', (runtime) => {
  let relay: RelayProcess;
  let api: ReturnType<typeof client>;
  const listeners: RecordedListener[] = [];

  const listen = async (stream: string, query?: Record<string, string>) => {
    const listener = await connectListener(relay.url, stream, { key: KEY, ...(query ? { query } : {}) });
    listeners.push(listener);
    await listener.waitFor((m) => m.type === 'hello');
    return listener;
  };

  beforeAll(async () => {
    relay = await startRelayProcess(runtime, { RELAY_ADMIN_KEY: KEY });
    api = client(relay);
  });

  afterAll(async () => {
    for (const listener of listeners) listener.close();
    await relay?.kill();
  });

  it('runs on the runtime it was started with', async () => {
    expect(relay.runtime).toBe(await runtimeVersion(runtime));
    const health = await api.request('/healthz', { key: null });
    expect(health.status).toBe(200);
    // 503 with `warm: false` while the warm-up at start (the rehearsal, the engine's) runs, then 200.
    const answers = await untilReady(() => api.request('/readyz', { key: null }));
    for (const answer of answers.slice(0, -1)) expect(answer).toMatchObject({ status: 503, body: { ready: false, warm: false, accepting: true } });
    expect(answers.at(-1)).toMatchObject({ status: 200, body: { ready: true, warm: true, provider: 'espeak' } });
  }, 60_000);

  it('serves the player page and its client module, with a strict CSP', async () => {
    const page = await api.request('/', { key: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<button id="play" type="submit">Play</button>');
    for (const path of ['/player/client.js', '/player/client-wire.js', '/player/client-clock.js', '/player/worklet.js', '/player/worklet-ring.js', '/player/page.js']) {
      const script = await api.request(path, { key: null });
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await script.text()).toContain('// @ts-check');
    }
  });

  it('speaks over HTTP to two listeners, who get the same binary audio byte for byte', async () => {
    const a = await listen('kitchen');
    const b = await listen('kitchen');
    const response = await api.speak('kitchen', 'Hello from every runtime. Both listeners hear this.', 'wait=true');
    expect(response.status).toBe(200);
    const result = (await response.json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
    await within(a.waitFor(isEnd), 10_000, 'utterance_end at listener a');
    await within(b.waitFor(isEnd), 10_000, 'utterance_end at listener b');
    const audioA = a.audioOf(result.utterance);
    expect(audioA.byteLength).toBeGreaterThan(20_000);
    expect(Buffer.from(b.audioOf(result.utterance)).equals(Buffer.from(audioA))).toBe(true);
    expect(a.frames.map((f) => f.sampleOffset)).toEqual(b.frames.map((f) => f.sampleOffset));
    // f32 at the rate hello announced: the byte count matches the seconds the relay reports.
    const hello = a.messages.find((m) => m.type === 'hello')!;
    expect(audioA.byteLength / 4 / hello.format.sample_rate).toBeCloseTo(result.audio_seconds, 1);
  });

  it('cancel ends the current utterance on every listener, and no audio of it follows', async () => {
    const a = await listen('cancel-me');
    const b = await listen('cancel-me');
    const speaking = api.speak('cancel-me', LONG_TEXT, 'wait=true');
    const start = await within(a.waitFor(isStart), 10_000, 'utterance_start');
    await within(new Promise<void>((resolve) => {
      const poll = setInterval(() => a.frames.length > 0 && (clearInterval(poll), resolve()), 10);
    }), 10_000, 'first audio');
    const cancel = await api.request('/v1/streams/cancel-me/cancel', { method: 'POST' });
    expect(await cancel.json()).toMatchObject({ cancelled: [start.utterance_id] });
    const result = (await (await speaking).json()) as SpeakCompleted;
    expect(result.reason).toBe('cancelled');
    for (const listener of [a, b]) {
      const end = await within(listener.waitFor(isEnd), 10_000, 'utterance_end');
      expect(end.reason).toBe('cancelled');
      const endIndex = listener.events.findIndex((e) => e.kind === 'message' && e.message.type === 'utterance_end');
      expect(listener.events.slice(endIndex).some((e) => e.kind === 'audio' && e.frame.utterance === start.utterance)).toBe(false);
    }
    // Cut short: the listeners heard a few seconds (the playout lead and the time to cancel), not the whole text.
    const rate = a.messages.find((m) => m.type === 'hello')!.format.sample_rate;
    expect(a.audioOf(start.utterance).byteLength / 4 / rate).toBeLessThan(10);
  });

  it('refuses a bad credential on HTTP and on the WebSocket upgrade', async () => {
    const speak = await api.request('/v1/streams/kitchen/speak', { method: 'POST', body: 'Nope.', key: 'not-the-key-0123456789' });
    expect(speak.status).toBe(401);
    expect(((await speak.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const missing = await api.request('/v1/streams/kitchen/speak', { method: 'POST', body: 'Nope.', key: null });
    expect(missing.status).toBe(401);
    const upgrade = await refusedUpgrade(relay.url, '/v1/streams/kitchen/listen', { authorization: 'Bearer not-the-key-0123456789' });
    expect(upgrade).toEqual({ status: 401, code: 'unauthorized' });
    expect((await api.request('/metrics', { key: 'not-the-key-0123456789' })).status).toBe(401);
  });

  it('answers the tts-relay subprotocol, never an offered token entry', async () => {
    // Browsers separate offered protocols with ", "; the token entry comes first here, as a careless client might send it.
    const socket = new WebSocket(new URL('/v1/streams/kitchen/listen', relay.url.replace(/^http/, 'ws')), {
      headers: { authorization: `Bearer ${KEY}`, 'sec-websocket-protocol': 'tts-relay.token.not-a-real-token, tts-relay' },
    });
    // ws itself objects to an answer it did not ask for; only the header matters here.
    socket.on('error', () => {});
    const answered = await within(
      new Promise<string | undefined>((resolve, reject) => {
        socket.once('upgrade', (response) => resolve(response.headers['sec-websocket-protocol'] as string | undefined));
        socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      }),
      5000,
      'upgrade',
    );
    socket.terminate();
    expect(answered).toBe('tts-relay');
  });

  it(`keeps a streaming upload that goes quiet for ${QUIET_UPLOAD_PAUSE_MS / 1000} s (past Bun's idle timeout)`, async () => {
    const listener = await listen('slow-upload');
    const upload = controlledBody();
    const response = api.speak('slow-upload', upload.body, 'wait=true');
    upload.write('First part, spoken at once.\n');
    await within(listener.waitFor(isStart), 10_000, 'speech before the upload ends');
    await new Promise((resolve) => setTimeout(resolve, QUIET_UPLOAD_PAUSE_MS));
    upload.write('Second part, after the pause.\n');
    upload.end();
    const result = (await (await response).json()) as SpeakCompleted;
    expect(result).toMatchObject({ reason: 'done', characters: 'First part, spoken at once.\nSecond part, after the pause.\n'.length });
    expect(result.total_ms).toBeGreaterThan(QUIET_UPLOAD_PAUSE_MS);
  }, 30_000);

  it('counts what this suite did in /metrics', async () => {
    const response = await api.request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const metrics = parseMetrics(await response.text());
    expect(metrics.get(`tts_relay_info{runtime="${relay.runtime}",provider="espeak"}`)).toBe(1);
    expect(metrics.get('tts_relay_utterances_total{reason="done"}')).toBe(2);
    expect(metrics.get('tts_relay_utterances_total{reason="cancelled"}')).toBe(1);
    expect(metrics.get('tts_relay_time_to_first_audio_seconds_count')).toBe(3);
    expect(metrics.get('tts_relay_listener_connections_total')).toBe(6);
    expect(metrics.get('tts_relay_sent_bytes_total{kind="audio"}')).toBeGreaterThan(100_000);
    expect(metrics.get('tts_relay_http_requests_total{method="POST",status="401"}')).toBe(2);
  });
});

describe.each(RUNTIMES)('backpressure under %s', (runtime) => {
  let relay: RelayProcess | undefined;
  afterAll(async () => relay?.kill());

  it('drops a listener that stops reading (close 4008) while the others hear everything', async () => {
    // Audio released as fast as it is made (a sentence at a time, ~1 MB bursts), with an allowance of 7 s
    // (1.3 MB at 48 kHz f32) over the ~4 MB loopback's kernel buffers soak up: a reader that pauses is past
    // it within the ~45 s of speech (8.6 MB), one that reads stays far below it even on a busy machine. Frequent heartbeats keep frames going
    // to the stalled socket after the speech, so its drop is decided.
    relay = await startRelayProcess(runtime, {
      RELAY_ADMIN_KEY: KEY,
      RELAY_PLAYOUT_LEAD_MS: '3600000',
      RELAY_LISTENER_MAX_BUFFERED_SECONDS: '7',
      RELAY_HEARTBEAT_MS: '200',
      // Two listeners, a waiting speak and a status poll at a time: four connections from this address.
      RELAY_MAX_CONNECTIONS_PER_IP: '4',
    });
    const api = client(relay);
    const format = { encoding: 'pcm_f32le', sample_rate: '48000' };
    const slow = await connectListener(relay.url, 'flood', { key: KEY, query: format });
    const steady = await connectListener(relay.url, 'flood', { key: KEY, query: format });
    try {
      await slow.waitFor((m) => m.type === 'hello');
      await steady.waitFor((m) => m.type === 'hello');
      // The runtime tells the relay each client's address: the per-address cap counts this one's sockets.
      const extra = await connectListener(relay.url, 'flood', { key: KEY });
      const extra2 = await connectListener(relay.url, 'flood', { key: KEY });
      expect(await refusedUpgrade(relay.url, '/v1/streams/flood/listen', { authorization: `Bearer ${KEY}` })).toEqual({ status: 429, code: 'too_many_connections' });
      for (const socket of [extra, extra2]) {
        socket.close();
        await within(socket.closed, 5000, 'extra listener closed');
      }
      slow.socket.pause();
      const result = (await (await api.speak('flood', LONG_TEXT, 'wait=true')).json()) as SpeakCompleted;
      expect(result.reason).toBe('done');
      // A paused client reads no close frame either: wait for the relay to let go of it, then read what is left.
      await within(
        (async () => {
          while (((await (await api.request('/v1/streams/flood')).json()) as { listeners: number }).listeners > 1) {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })(),
        10_000,
        'slow listener drop',
      );
      slow.socket.resume();
      expect(await within(slow.closed, 10_000, 'slow listener closed')).toMatchObject({ code: 4008, reason: 'slow_listener' });
      await within(steady.waitFor(isEnd), 10_000, 'steady listener end');
      expect(steady.audioOf(result.utterance).byteLength / 4 / 48_000).toBeCloseTo(result.audio_seconds, 1);
      const metrics = parseMetrics(await (await api.request('/metrics')).text());
      expect(metrics.get('tts_relay_slow_listeners_dropped_total')).toBe(1);
    } finally {
      slow.close();
      steady.close();
    }
  });
});

describe.each(RUNTIMES)('start-up under %s', (runtime) => {
  it('refuses a bad variable with one line naming it, and exits 1', async () => {
    const { code, stderr } = await runRelayToExit(runtime, { PORT: 'banana', RELAY_ADMIN_KEY: KEY });
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^tts-relay: configuration error: PORT: invalid value "banana"/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
