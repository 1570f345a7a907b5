/** Every limit, enforced where a client can reach it, with its error code; and the relay unhurt afterwards. */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SpeakCompleted } from '../../shared/api.ts';
import type { ErrorCode } from '../../shared/errors.ts';
import { ConnectionLimiter, guardWebSockets } from '../../worker/security/connection-limit.ts';
import type { SocketEvents } from '../../worker/runtime/contract.ts';
import { connectListener, isEnd, type RecordedListener, refusedUpgrade } from '../support/listener-client.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';
import { mint, openSocket, TEST_TOKEN_SECRET } from './tokens.ts';

let relay: TestRelay | undefined;
const sockets: Array<{ close(): void }> = [];

async function start(env: Record<string, string>): Promise<TestRelay> {
  relay = await startTestRelay({ RELAY_TOKEN_SECRET: TEST_TOKEN_SECRET, ...env });
  return relay;
}

async function listen(r: TestRelay, stream: string): Promise<RecordedListener> {
  const listener = await connectListener(r.url, stream, { key: TEST_ADMIN_KEY });
  sockets.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

async function expectError(response: Response, status: number, code: ErrorCode): Promise<void> {
  expect({ status: response.status, header: response.headers.get('x-error-code'), code: ((await response.json()) as { error: { code: string } }).error.code }).toEqual({ status, header: code, code });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await relay?.close();
  relay = undefined;
});

describe('requests per token per second', () => {
  it('answers 429 rate_limited with Retry-After past the burst, and lets the token in again once it refills', async () => {
    // One token a second: the burst's five requests have a whole second before a refill, even on a busy machine.
    const r = await start({ RELAY_TOKEN_RATE: '1', RELAY_TOKEN_BURST: '3' });
    await r.speak('kitchen', 'Ready.');
    const { token, rate, burst } = await mint(r, { streams: ['kitchen'], actions: ['listen'] });
    expect({ rate, burst }).toEqual({ rate: 1, burst: 3 });
    for (let i = 0; i < 3; i++) expect((await r.request('/v1/streams/kitchen', { key: token })).status).toBe(200);
    const limited = await r.request('/v1/streams/kitchen', { key: token });
    expect(limited.headers.get('retry-after')).toBe('1');
    await expectError(limited, 429, 'rate_limited');
    // A WebSocket upgrade is a request too, refused the same way.
    expect(await refusedUpgrade(r.url, `/v1/streams/kitchen/listen?token=${token}`)).toEqual({ status: 429, code: 'rate_limited' });
    await sleep(1100);
    expect((await r.request('/v1/streams/kitchen', { key: token })).status).toBe(200);
  });

  it('uses the rate a token was minted with; admin keys are not rate limited', async () => {
    const r = await start({ RELAY_TOKEN_RATE: '1', RELAY_TOKEN_BURST: '1' });
    await r.speak('kitchen', 'Ready.');
    const { token } = await mint(r, { streams: ['kitchen'], actions: ['listen'], rate: 0.5, burst: 10 });
    for (let i = 0; i < 10; i++) expect((await r.request('/v1/streams/kitchen', { key: token })).status).toBe(200);
    expect((await r.request('/v1/streams/kitchen', { key: token })).status).toBe(429);
    for (let i = 0; i < 30; i++) expect((await r.request('/v1/streams/kitchen')).status).toBe(200);
  });
});

describe('connections', () => {
  it('caps open connections per client address: sockets and uploads count, health checks do not', async () => {
    const r = await start({ RELAY_MAX_CONNECTIONS_PER_IP: '3' });
    await listen(r, 'a');
    await listen(r, 'b');
    const upload = controlledBody();
    const pending = r.speak('c', upload.body);
    upload.write('A slow upload holds a connection. ');
    await sleep(100);
    const refused = await r.request('/v1/streams/a');
    expect(refused.headers.get('retry-after')).toBe('1');
    await expectError(refused, 429, 'too_many_connections');
    expect(await refusedUpgrade(r.url, '/v1/streams/a/listen', { authorization: `Bearer ${TEST_ADMIN_KEY}` })).toEqual({ status: 429, code: 'too_many_connections' });
    expect((await fetch(new URL('/healthz', r.url))).status).toBe(200);
    upload.end();
    expect((await pending).status).toBe(202);
    expect((await r.request('/v1/streams/a')).status).toBe(200);
  });

  it('caps open connections for the whole instance, and frees a slot when a socket closes', async () => {
    const r = await start({ RELAY_MAX_CONNECTIONS: '2' });
    const first = await listen(r, 'a');
    await listen(r, 'a');
    expect(await refusedUpgrade(r.url, '/v1/streams/a/listen', { authorization: `Bearer ${TEST_ADMIN_KEY}` })).toEqual({ status: 429, code: 'too_many_connections' });
    first.close();
    await first.closed;
    await within(
      (async () => {
        while ((await r.request('/v1/streams/a')).status !== 200) await sleep(20);
      })(),
      5000,
      'a free slot',
    );
  });

  it('survives a flood of connections: refuses the excess and keeps speaking', async () => {
    const r = await start({ RELAY_MAX_CONNECTIONS_PER_IP: '20' });
    const listener = await listen(r, 'steady');
    const flood = await Promise.all(Array.from({ length: 60 }, () => openSocket(r.url, '/v1/streams/flood/listen', { header: TEST_ADMIN_KEY }).catch(() => ({ status: 0 }))));
    for (const outcome of flood) if ('socket' in outcome && outcome.socket) sockets.push(outcome.socket);
    const statuses = flood.map((o) => o.status);
    expect(statuses.filter((s) => s === 101)).toHaveLength(19);
    expect(statuses.filter((s) => s === 429)).toHaveLength(41);
    for (const socket of sockets.splice(1)) socket.close();
    await within((async () => {
      while ((await r.request('/v1/streams/steady')).status !== 200) await sleep(20);
    })(), 5000, 'slots freed');
    const result = (await (await r.speak('steady', 'Still here.', { query: 'wait=true' })).json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
    expect((await listener.waitFor(isEnd)).reason).toBe('done');
  });
});

describe('WebSocket frame size', () => {
  it('closes a socket that sends a message over RELAY_MAX_FRAME_BYTES with 1009; smaller ones reach the route', async () => {
    const r = await start({ RELAY_MAX_FRAME_BYTES: '2048' });
    const publisher = new WebSocket(new URL('/v1/streams/p/publish', r.url.replace(/^http/, 'ws')), { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    sockets.push(publisher);
    const replies: string[] = [];
    publisher.on('message', (data) => replies.push(data.toString()));
    await new Promise((resolve, reject) => publisher.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => publisher.once('close', (code) => resolve(code)));
    publisher.send(JSON.stringify({ type: 'text', text: 'short', seq: 1 }));
    await within((async () => {
      while (!replies.some((m) => m.includes('"ack"'))) await sleep(10);
    })(), 5000, 'ack of a small message');
    publisher.send(JSON.stringify({ type: 'text', text: 'x'.repeat(4000), seq: 2 }));
    expect(await within(closed, 5000, 'close')).toBe(1009);

    const listener = await listen(r, 'l');
    listener.socket.send(Buffer.alloc(3000));
    expect((await listener.closed).code).toBe(1009);
  });

  it('is enforced by the app too, for runtimes whose own cap is larger or absent', () => {
    const limiter = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIP: 10 });
    let events: SocketEvents = {};
    const runtime = guardWebSockets(
      { upgradeWebSocket: (_c, e) => ((events = e), Promise.resolve(new Response(null))), bufferedAmount: () => 0 },
      limiter,
      1024,
    );
    const seen: unknown[] = [];
    void runtime.upgradeWebSocket({ req: { raw: new Request('http://relay/') } } as never, { onMessage: (event: MessageEvent) => seen.push(event.data) });
    const closes: Array<[number | undefined, string | undefined]> = [];
    const ws = { close: (code?: number, reason?: string) => closes.push([code, reason]) } as never;
    events.onMessage?.(new MessageEvent('message', { data: 'x'.repeat(1024) }), ws);
    events.onMessage?.(new MessageEvent('message', { data: '\u20ac'.repeat(400) }), ws);
    events.onMessage?.(new MessageEvent('message', { data: new ArrayBuffer(1025) }), ws);
    expect(seen).toHaveLength(1);
    expect(closes).toEqual([
      [1009, 'payload_too_large'],
      [1009, 'payload_too_large'],
    ]);
  });
});

describe('slow uploads (slowloris)', () => {
  it('ends an upload that sends nothing for RELAY_UPLOAD_IDLE_MS with 408 upload_timeout; what was queued is not lost', async () => {
    const r = await start({ RELAY_UPLOAD_IDLE_MS: '500' });
    const listener = await listen(r, 'q');
    const before = await r.speak('q', 'Queued before the stalled upload.');
    expect(before.status).toBe(202);
    const stalled = controlledBody();
    const response = r.speak('q', stalled.body);
    stalled.write('This upload stops after these words');
    const after = await r.speak('q', 'Queued after the stalled upload.');
    expect(after.status).toBe(202);
    const started = performance.now();
    await expectError(await within(response, 5000, 'stalled upload answer'), 408, 'upload_timeout');
    expect(performance.now() - started).toBeGreaterThan(300);
    const kept = [((await before.json()) as { utterance: number }).utterance, ((await after.json()) as { utterance: number }).utterance];
    for (const utterance of kept) {
      expect((await listener.waitFor((m) => m.type === 'utterance_end' && m.utterance === utterance, 20_000)) as unknown).toMatchObject({ reason: 'done' });
    }
    // The stalled one never spoke (it failed while queued) or ended with the upload's error.
    for (const end of listener.messages.filter(isEnd).filter((e) => !kept.includes(e.utterance))) {
      expect(end).toMatchObject({ reason: 'error', error: { code: 'upload_timeout' } });
    }
  });

  it('keeps a slow but alive producer (an LLM) going: any byte restarts the clock', async () => {
    const r = await start({ RELAY_UPLOAD_IDLE_MS: '400' });
    const trickle = controlledBody();
    const response = r.speak('llm', trickle.body, { query: 'wait=true' });
    const text = 'A slow model thinks between its words but never stops for long.';
    for (const word of text.split(' ')) {
      trickle.write(`${word} `);
      await sleep(250);
    }
    trickle.end();
    const result = (await (await within(response, 20_000, 'slow upload')).json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
    expect(result.characters).toBeGreaterThanOrEqual(text.length);
  });
});

describe('stream limits', () => {
  it('utterances queued per stream: 429 queue_full past RELAY_MAX_QUEUE', async () => {
    const r = await start({ RELAY_MAX_QUEUE: '2' });
    const current = controlledBody();
    const speaking = r.speak('busy', current.body);
    current.write('The current utterance waits for more words ');
    await within((async () => {
      while (r.relay.existingStream('busy')?.status().current == null) await sleep(10);
    })(), 5000, 'current utterance');
    expect((await r.speak('busy', 'One.')).status).toBe(202);
    expect((await r.speak('busy', 'Two.')).status).toBe(202);
    await expectError(await r.speak('busy', 'Three.'), 429, 'queue_full');
    expect((await r.speak('other', 'Another stream is unaffected.')).status).toBe(202);
    current.end();
    expect((await speaking).status).toBe(202);
  });

  it('listeners per stream: 429 too_many_listeners at the upgrade', async () => {
    const r = await start({ RELAY_MAX_LISTENERS_PER_STREAM: '2' });
    await listen(r, 'full');
    await listen(r, 'full');
    expect(await refusedUpgrade(r.url, '/v1/streams/full/listen', { authorization: `Bearer ${TEST_ADMIN_KEY}` })).toEqual({ status: 429, code: 'too_many_listeners' });
    await listen(r, 'not-full');
  });

  it('streams per instance: 429 too_many_streams; existing streams go on', async () => {
    const r = await start({ RELAY_MAX_STREAMS: '2' });
    expect((await r.speak('one', 'One.')).status).toBe(202);
    expect((await r.speak('two', 'Two.')).status).toBe(202);
    await expectError(await r.speak('three', 'Three.'), 429, 'too_many_streams');
    expect((await r.speak('one', 'Again.')).status).toBe(202);
  });

  it('idle stream lifetime: an unused stream is forgotten after RELAY_STREAM_IDLE_MS', async () => {
    const r = await start({ RELAY_STREAM_IDLE_MS: '1000' });
    expect((await r.speak('brief', 'Short.', { query: 'wait=true' })).status).toBe(200);
    expect((await r.request('/v1/streams/brief')).status).toBe(200);
    await within((async () => {
      while ((await r.request('/v1/streams/brief')).status !== 404) await sleep(100);
    })(), 5000, 'stream forgotten');
  });

  it('bytes per speak request are counted while streaming: 413 before the upload ends', async () => {
    const r = await start({ RELAY_MAX_SPEAK_BYTES: '4096' });
    const upload = controlledBody();
    const response = r.speak('big', upload.body);
    for (let i = 0; i < 5; i++) upload.write(`${'word '.repeat(200)}\n`);
    await expectError(await within(response, 5000, 'answer before the end of the upload'), 413, 'payload_too_large');
  });
});

describe('token lifetime', () => {
  it('defaults to RELAY_TOKEN_TTL_S and refuses more than RELAY_TOKEN_MAX_TTL_S', async () => {
    const r = await start({ RELAY_TOKEN_TTL_S: '600', RELAY_TOKEN_MAX_TTL_S: '3600' });
    expect((await mint(r, { streams: ['a'], actions: ['listen'] })).expires_in).toBe(600);
    expect((await mint(r, { streams: ['a'], actions: ['listen'], expires_in: 3600 })).expires_in).toBe(3600);
    const refused = await r.request('/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ streams: ['a'], actions: ['listen'], expires_in: 3601 }) });
    await expectError(refused, 400, 'bad_request');
  });
});

describe('CORS and headers', () => {
  it('sends no CORS headers unless RELAY_CORS_ORIGINS is set; secure headers always', async () => {
    const r = await start({});
    const response = await r.request('/v1/streams/x', { headers: { origin: 'https://evil.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const preflight = await r.request('/v1/streams/x/speak', { method: 'OPTIONS', key: null, headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers preflights for the configured origins only', async () => {
    const r = await start({ RELAY_CORS_ORIGINS: 'https://app.example.com' });
    const preflight = (origin: string) =>
      r.request('/v1/streams/x/speak', { method: 'OPTIONS', key: null, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    const allowed = await preflight('https://app.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    const actual = await r.request('/v1/streams/x', { headers: { origin: 'https://app.example.com' } });
    expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(actual.headers.get('access-control-expose-headers')).toContain('X-Error-Code');
  });
});
