/**
 * Property-based fuzzing (fast-check) of every body and message schema and of the HTTP routes: whatever
 * arrives, the answer is a stable error code from shared/errors.ts (never a 5xx), and the relay goes on.
 * In-process calls carry the volume; a real server on port 0 takes a sample over TCP and WebSocket.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TOKEN_ACTIONS } from '../../shared/api.ts';
import { parseCartesiaClientMessage } from '../../shared/cartesia-messages.ts';
import { ERRORS, type ErrorCode, isErrorCode, RelayError } from '../../shared/errors.ts';
import { decodeAudioFrame, encodeAudioFrame, listenerMessageSchema, parseListenerMessage } from '../../shared/protocol.ts';
import { parsePublishClientMessage, publishServerMessageSchema } from '../../shared/publish-protocol.ts';
import { createRelay, type RelayInstance } from '../../worker/create-relay.ts';
import { readSpeakBody } from '../../worker/ingress/speak-body.ts';
import { nodeRuntime } from '../../worker/runtime/node.ts';
import { TokenService } from '../../worker/security/tokens.ts';
import { untilReady } from '../support/readiness.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';
import { forge, mint, tamper, TEST_TOKEN_SECRET } from './tokens.ts';

/** Generated inputs run per property; the sum is what `npm test` fuzzes (at least 10,000). */
const RUNS = {
  plainBodies: 1500,
  structuredBodies: 1500,
  listenerMessages: 800,
  audioFrames: 500,
  publishMessages: 800,
  cartesiaMessages: 600,
  tokens: 800,
  routesInProcess: 3500,
  routesOverTCP: 300,
  socketFrames: 400,
};
const ran: Record<keyof typeof RUNS, number> = Object.fromEntries(Object.keys(RUNS).map((k) => [k, 0])) as Record<keyof typeof RUNS, number>;

const encoder = new TextEncoder();
// Close codes a client may see: the error table's, plus a normal close.
const CLOSE_CODES = new Set<number>([1000, 1005, ...Object.values(ERRORS).map((e) => e.close)]);

function expectRelayError(error: unknown): RelayError {
  expect(error).toBeInstanceOf(RelayError);
  const relayError = error as RelayError;
  expect(isErrorCode(relayError.code)).toBe(true);
  expect(relayError.status).toBeGreaterThanOrEqual(400);
  expect(relayError.status).toBeLessThan(500);
  return relayError;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

// ---- arbitraries ------------------------------------------------------------------------------------

const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
const jsonText = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.record({ text: fc.oneof(text, fc.integer(), fc.constant(null)), flush: fc.oneof(fc.boolean(), fc.string({ maxLength: 3 })), voice: fc.string({ maxLength: 200 }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"text":"Hello."}', '{"flush":true}', '{"text":', '[]', 'null', '{"text":"a","flush":true}', '{"__proto__":{"text":"x"}}', '"\\ud800"'),
);
const line = fc.oneof(jsonText, text, fc.constantFrom('', '\r', 'data: [DONE]', ': keepalive', 'event: delta', 'data:', 'data: {"choices":[{"delta":{"content":"Hi"}}]}', 'id: 1', 'retry: x'));
const lines = fc.tuple(fc.array(line, { maxLength: 8 }), fc.constantFrom('\n', '\r\n')).map(([ls, newline]) => ls.join(newline));
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  text.map((t) => encoder.encode(t)),
  lines.map((t) => encoder.encode(t)),
  fc.tuple(text, fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([t, junk]) => new Uint8Array([...encoder.encode(t), ...junk])),
);
/** The same bytes cut into random chunks, as a streaming upload delivers them. */
const chunked = (arb: fc.Arbitrary<Uint8Array>) =>
  fc.tuple(arb, fc.array(fc.nat(), { maxLength: 6 })).map(([all, cuts]) => {
    const points = [...new Set(cuts.map((c) => (all.byteLength === 0 ? 0 : c % all.byteLength)))].sort((a, b) => a - b);
    const parts: Uint8Array[] = [];
    let from = 0;
    for (const p of points) {
      parts.push(all.subarray(from, p));
      from = p;
    }
    parts.push(all.subarray(from));
    return { all, parts };
  });
const CONTENT_TYPES = ['text/plain', 'application/x-ndjson', 'application/jsonl', 'text/event-stream', 'application/json', 'application/octet-stream', '', 'image/png', 'TEXT/PLAIN; charset=utf-8', ';;', 'multipart/form-data; boundary=x'];

// ---- schemas and bodies ------------------------------------------------------------------------------

describe('speak bodies', () => {
  it('text/plain: valid UTF-8 within the limit comes out exactly as sent; anything else is a 4xx RelayError', async () => {
    await fc.assert(
      fc.asyncProperty(chunked(bytes), fc.integer({ min: 1, max: 400 }), async ({ all, parts }, maxBytes) => {
        ran.plainBodies++;
        let out = '';
        try {
          const body = await readSpeakBody('text/plain', streamOf(parts), { maxBytes, maxLineChars: 64 });
          for await (const input of body.inputs) if (input.type === 'text') out += input.text;
        } catch (error) {
          const code = expectRelayError(error).code;
          expect(['invalid_utf8', 'payload_too_large']).toContain(code);
          if (code === 'payload_too_large') expect(all.byteLength).toBeGreaterThan(maxBytes);
          return;
        }
        expect(all.byteLength).toBeLessThanOrEqual(maxBytes);
        expect(out).toBe(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(all));
      }),
      { numRuns: RUNS.plainBodies },
    );
  });

  it('NDJSON, SSE, JSON and unknown types: text and flush inputs, or a 4xx RelayError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CONTENT_TYPES), chunked(bytes), fc.integer({ min: 1, max: 2000 }), async (type, { parts }, maxBytes) => {
        ran.structuredBodies++;
        try {
          const body = await readSpeakBody(type, streamOf(parts), { maxBytes, maxLineChars: 40 });
          for await (const input of body.inputs) {
            if (input.type === 'text') expect(typeof input.text).toBe('string');
            else expect(input).toEqual({ type: 'flush' });
          }
        } catch (error) {
          expectRelayError(error);
        }
      }),
      { numRuns: RUNS.structuredBodies },
    );
  });
});

describe('WebSocket message schemas', () => {
  it('listener messages: parsed and valid, or null; never a throw', () => {
    const framed = fc.oneof(jsonText, text, fc.record({ type: fc.constantFrom('hello', 'utterance_start', 'utterance_end', 'timestamps', 'heartbeat', 'error', 'x'), utterance: fc.anything(), time: fc.anything() }, { requiredKeys: ['type'] }).map((v) => JSON.stringify(v)));
    fc.assert(
      fc.property(framed, (frame) => {
        ran.listenerMessages++;
        const message = parseListenerMessage(frame);
        if (message !== null) expect(listenerMessageSchema.safeParse(message).success).toBe(true);
      }),
      { numRuns: RUNS.listenerMessages },
    );
  });

  it('audio frames: decoded with their payload, or null', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.tuple(fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 32 })).map(([u, s, p]) => encodeAudioFrame(u, s, p))), (data) => {
        ran.audioFrames++;
        const frame = decodeAudioFrame(data);
        if (frame) expect(frame.payload.byteLength).toBe(data.byteLength - 12);
      }),
      { numRuns: RUNS.audioFrames },
    );
  });

  it('publish messages: a valid message or a reason, never a throw', () => {
    const framed = fc.oneof(
      jsonText,
      fc.record({ type: fc.constantFrom('text', 'flush', 'end', 'cancel', 'interrupt', 'speak', ''), text: fc.oneof(text, fc.integer()), seq: fc.oneof(fc.integer(), fc.double(), fc.string()), interrupt: fc.anything() }, { requiredKeys: ['type'] }).map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(framed, (frame) => {
        ran.publishMessages++;
        const parsed = parsePublishClientMessage(frame);
        if (!parsed.ok) expect(parsed.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS.publishMessages },
    );
  });

  it('Cartesia-compatible messages: a request or a reason, never a throw', () => {
    const framed = fc.oneof(
      jsonText,
      fc.record({ transcript: fc.oneof(text, fc.integer()), context_id: fc.oneof(fc.string({ maxLength: 10 }), fc.integer()), cancel: fc.anything(), continue: fc.anything(), voice: fc.anything(), output_format: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(framed, (frame) => {
        ran.cartesiaMessages++;
        const parsed = parseCartesiaClientMessage(frame);
        if (!parsed.ok) expect(parsed.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS.cartesiaMessages },
    );
  });
});

describe('tokens', () => {
  it('any string, or any mutation of a real token, is a verified token only when untouched; else a token error', async () => {
    const service = new TokenService({ secrets: [TEST_TOKEN_SECRET], defaultTtlSeconds: 900, maxTtlSeconds: 86_400, ratePerSecond: 10, burst: 20 }, [TEST_ADMIN_KEY]);
    const { token } = await service.mint({ streams: ['kitchen'], actions: ['listen'] });
    const mutated = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.tuple(fc.nat({ max: token.length - 1 }), fc.string({ minLength: 1, maxLength: 3 })).map(([at, s]) => token.slice(0, at) + s + token.slice(at + 1)),
      fc.record({ streams: fc.anything(), actions: fc.anything(), exp: fc.anything(), iss: fc.anything(), jti: fc.anything() }, { requiredKeys: [] }).map((claims) => tamper(token, claims)),
      fc.constant(token),
    );
    await fc.assert(
      fc.asyncProperty(mutated, async (candidate) => {
        ran.tokens++;
        try {
          const verified = await service.verify(candidate);
          expect(verified.streams).toEqual(['kitchen']);
          expect(verified.actions).toEqual(['listen']);
        } catch (error) {
          expect(['token_invalid', 'token_expired', 'token_not_yet_valid']).toContain(expectRelayError(error).code);
        }
      }),
      { numRuns: RUNS.tokens },
    );
  });
});

// ---- HTTP routes -----------------------------------------------------------------------------------

const STREAM_NAMES = ['kitchen', 'home/hall', 'a', 'x'.repeat(128), 'x'.repeat(129), '..', '.hidden', 'a//b', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', 'a/speak', '%00', '%ZZ', '%C3%A9', 'a%20b', '', '/', 'kitchen/listen/speak', '%2F', 'a/./b', 'a\\b'];
const streamName = fc.oneof(fc.constantFrom(...STREAM_NAMES), fc.stringMatching(/^[A-Za-z0-9._/-]{1,12}$/), fc.string({ maxLength: 12 }).map(encodeURIComponent));
const path = fc.oneof(
  fc.tuple(streamName, fc.constantFrom('', '/speak', '/cancel', '/listen', '/publish', '/status', '/%2e%2e/tokens', '/speak/')).map(([n, a]) => `/v1/streams/${n}${a}`),
  fc.constantFrom('/v1/tokens', '/v1/tokens/', '/v1/streams', '/v1/streams/', '/v1', '/', '/healthz', '/readyz', '/metrics', '/tts/websocket', '/v2/x', '//v1/streams/a', '/V1/streams/a', '/v1/streams/a?x=%'),
);
const query = fc.dictionary(fc.constantFrom('encoding', 'sample_rate', 'voice', 'language', 'buffering', 'all', 'token', 'api_key', 'x'), fc.string({ maxLength: 12 }), { maxKeys: 3 });
const tokenBody = fc
  .record(
    {
      streams: fc.oneof(fc.array(fc.oneof(streamName, fc.constantFrom('*', 'home/*', '*/x', '')), { maxLength: 4 }), fc.anything()),
      actions: fc.oneof(fc.array(fc.constantFrom(...TOKEN_ACTIONS, 'admin', 'status', ''), { maxLength: 4 }), fc.anything()),
      expires_in: fc.oneof(fc.integer(), fc.double(), fc.string()),
      rate: fc.oneof(fc.double(), fc.integer()),
      burst: fc.integer(),
      label: fc.string({ maxLength: 140 }),
      extra: fc.anything(),
    },
    { requiredKeys: [] },
  )
  .map((v) => JSON.stringify(v));
const body = fc.oneof(fc.constant(undefined), text, bytes, tokenBody, lines);
const credential = fc.constantFrom('admin', 'token', 'listen-only', 'expired', 'garbage', 'none', 'empty', 'basic');
const anyRequest = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  path,
  query,
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
  credential,
  body,
});
// Most generated requests should get past routing and auth, into the body parsers and the streams.
const speakRequest = fc.record({
  method: fc.constantFrom('POST', 'PUT'),
  path: fc.constantFrom('kitchen', 'home/hall', 'a/b/c').map((name) => `/v1/streams/${name}/speak`),
  query: fc.dictionary(fc.constantFrom('voice', 'language', 'buffering'), fc.string({ maxLength: 12 }), { maxKeys: 2 }),
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
  credential: fc.constantFrom('admin', 'token'),
  body: fc.oneof(text, bytes, lines, jsonText),
});
const tokenRequest = fc.record({
  method: fc.constant('POST'),
  path: fc.constant('/v1/tokens'),
  query: fc.constant({}),
  contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain'), { nil: undefined }),
  credential: fc.constantFrom('admin', 'admin', 'token'),
  body: fc.oneof(tokenBody, jsonText, bytes),
});
const request = fc.oneof({ arbitrary: anyRequest, weight: 2 }, { arbitrary: speakRequest, weight: 2 }, { arbitrary: tokenRequest, weight: 1 });
type FuzzRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

interface Credentials {
  token: string;
  listenOnly: string;
  expired: string;
}

function buildRequest(base: string, r: FuzzRequest, credentials: Credentials): Request {
  const url = new URL(base);
  const [pathname, search] = r.path.split('?');
  url.pathname = pathname!;
  url.search = search ?? '';
  for (const [k, v] of Object.entries(r.query)) url.searchParams.set(k, v);
  // ?wait=true would hold the request for the length of the speech; the fuzz wants answers, not audio.
  url.searchParams.delete('wait');
  const headers = new Headers();
  const auth: Record<string, string | undefined> = {
    admin: `Bearer ${TEST_ADMIN_KEY}`,
    token: `Bearer ${credentials.token}`,
    'listen-only': `Bearer ${credentials.listenOnly}`,
    expired: `Bearer ${credentials.expired}`,
    garbage: 'Bearer eyJ.garbage.x',
    none: undefined,
    empty: 'Bearer ',
    basic: 'Basic YWRtaW46YWRtaW4=',
  };
  if (auth[r.credential]) headers.set('authorization', auth[r.credential]!);
  if (r.contentType !== undefined) headers.set('content-type', r.contentType);
  const hasBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
  return new Request(url, { method: r.method, headers, ...(hasBody ? { body: r.body as BodyInit } : {}) });
}

async function expectStableAnswer(response: Response, method: string): Promise<void> {
  expect(response.status).toBeLessThan(500);
  const text = await response.text();
  if (response.status < 400) return;
  const code = response.headers.get('x-error-code');
  expect(isErrorCode(code)).toBe(true);
  expect(ERRORS[code as ErrorCode].status).toBe(response.status);
  if (method === 'HEAD') return;
  // The relay's shape, or Cartesia's error object on the Cartesia-compatible routes.
  const body = JSON.parse(text) as { error?: { code: string }; error_code?: string };
  expect(body.error?.code ?? body.error_code).toBe(code);
}

async function credentialsFor(secret: string, mintToken: (body: object) => Promise<string>): Promise<Credentials> {
  const now = Math.floor(Date.now() / 1000);
  return {
    token: await mintToken({ streams: ['*'], actions: ['speak', 'listen', 'cancel'], rate: 10_000, burst: 100_000 }),
    listenOnly: await mintToken({ streams: ['kitchen', 'home/*'], actions: ['listen'], rate: 10_000, burst: 100_000 }),
    expired: await forge({ iat: now - 100, nbf: now - 100, exp: now - 1 }, { secret }),
  };
}

// Small limits, so generated bodies reach them, and few streams, so espeak is not asked for much speech.
const FUZZ_ENV = {
  TTS_PROVIDER: 'espeak',
  RELAY_ADMIN_KEY: TEST_ADMIN_KEY,
  RELAY_TOKEN_SECRET: TEST_TOKEN_SECRET,
  RELAY_MAX_SPEAK_BYTES: '2048',
  RELAY_MAX_UTTERANCE_CHARS: '120',
  RELAY_MAX_QUEUE: '3',
  RELAY_MAX_STREAMS: '12',
  RELAY_UPLOAD_IDLE_MS: '2000',
};

/** The warm-up's own bound (30 s) and then some: readiness may take that long on a loaded machine. */
const READY_WAIT_MS = 45_000;

describe('HTTP routes in process (app.request)', () => {
  let instance: RelayInstance;
  const statuses = new Map<string, number>();
  let credentials: Credentials;

  beforeAll(async () => {
    instance = await createRelay({ env: FUZZ_ENV, runtime: nodeRuntime, quiet: true });
    // `/readyz` answers 503 by design until the warm-up is over; the fuzz is about input, not start-up.
    await instance.warm;
    credentials = await credentialsFor(TEST_TOKEN_SECRET, async (body) => {
      const response = await instance.app.request('/v1/tokens', { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(response.status).toBe(201);
      return ((await response.json()) as { token: string }).token;
    });
  }, READY_WAIT_MS);

  afterAll(async () => {
    await instance?.relay.close();
  });

  it('answers every generated request below 500, with a stable error code when it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        ran.routesInProcess++;
        // Upgrades need a real server (the sample below); in process they have no socket to take over.
        const response = await instance.app.request(buildRequest('http://relay.test/', r, credentials));
        const outcome = `${response.status} ${response.headers.get('x-error-code') ?? ''}`.trim();
        statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
        await expectStableAnswer(response, r.method);
      }),
      { numRuns: RUNS.routesInProcess },
    );
    // The inputs reached past routing and auth: speech was accepted, and the body parsers and limits answered.
    expect(statuses.has('202')).toBe(true);
    for (const code of ['invalid_utf8', 'invalid_ndjson', 'invalid_json', 'unsupported_media_type', 'queue_full', 'invalid_stream_name', 'token_invalid', 'forbidden']) {
      expect([...statuses.keys()]).toContain(`${ERRORS[code as ErrorCode].status} ${code}`);
    }
    expect((await instance.app.request('/healthz')).status).toBe(200);
  }, 120_000);
});

describe('a real server on port 0', () => {
  let relay: TestRelay;
  let credentials: Credentials;

  beforeAll(async () => {
    relay = await startTestRelay(FUZZ_ENV);
    await untilReady(() => relay.request('/readyz'));
    credentials = await credentialsFor(TEST_TOKEN_SECRET, async (body) => (await mint(relay, body as never)).token);
  }, READY_WAIT_MS);

  afterAll(async () => {
    await relay?.close();
  });

  it('answers generated requests over TCP, bodies streamed in random chunks, below 500', async () => {
    await fc.assert(
      fc.asyncProperty(request, fc.option(chunked(bytes), { nil: undefined }), async (r, streamed) => {
        ran.routesOverTCP++;
        const built = buildRequest(relay.url, r, credentials);
        const sendsBody = streamed !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
        const response = await fetch(built.url, {
          method: built.method,
          headers: built.headers,
          ...(sendsBody ? { body: streamOf(streamed.parts), duplex: 'half' } : built.body ? { body: await built.arrayBuffer() } : {}),
        } as RequestInit);
        await expectStableAnswer(response, r.method);
      }),
      { numRuns: RUNS.routesOverTCP },
    );
  }, 120_000);

  it('closes or answers generated WebSocket frames with codes from the error table, and keeps speaking', async () => {
    const ROUTES = ['/v1/streams/fuzz/publish', '/tts/websocket?cartesia_version=2026-03-01', '/v1/streams/fuzz/listen'] as const;
    const frame = fc.oneof(jsonText, text, fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), fc.constant(Buffer.alloc(70_000)));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), fc.array(frame, { minLength: 1, maxLength: 3 }), async (route, frames) => {
        ran.socketFrames++;
        const socket = new WebSocket(new URL(route, relay.url.replace(/^http/, 'ws')), { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
        const replies: string[] = [];
        socket.on('message', (data, isBinary) => {
          if (!isBinary) replies.push(data.toString());
        });
        const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
        await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
        for (const f of frames) if (socket.readyState === WebSocket.OPEN) socket.send(f);
        const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(0), 60))]);
        if (code === 0) {
          socket.close();
          await closed;
        } else {
          expect(CLOSE_CODES.has(code)).toBe(true);
        }
        if (route.endsWith('/publish')) {
          for (const reply of replies) expect(publishServerMessageSchema.safeParse(JSON.parse(reply)).success).toBe(true);
        }
        for (const reply of replies) {
          const error = (JSON.parse(reply) as { error?: { code?: unknown } }).error;
          if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string' && !route.startsWith('/tts/websocket')) expect(isErrorCode(error.code)).toBe(true);
        }
      }),
      { numRuns: RUNS.socketFrames },
    );
    expect((await fetch(new URL('/healthz', relay.url))).status).toBe(200);
    const after = await relay.speak('after-fuzz', 'Still speaking.', { query: 'wait=true' });
    expect(((await after.json()) as { reason: string }).reason).toBe('done');
  }, 120_000);
});

it('fuzzes at least 10,000 generated inputs in all', () => {
  expect(Object.values(RUNS).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10_000);
});

afterAll(() => {
  const total = Object.values(ran).reduce((a, b) => a + b, 0);
  // The count is part of the issue's definition of done: print it where CI logs keep it.
  console.log(`fuzz inputs run: ${total} (${Object.entries(ran).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  // Each property that ran (a -t filter may skip some) ran all its inputs.
  for (const [name, count] of Object.entries(ran)) if (count > 0) expect({ name, count }).toEqual({ name, count: expect.toSatisfy((n: number) => n >= RUNS[name as keyof typeof RUNS]) });
});
