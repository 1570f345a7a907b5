/**
 * Secrets stay secret: drive the relay through success, failure and hostile paths while capturing every
 * log line and every response (status, headers, body, close reasons), then grep it all for the keys and tokens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { redactor } from '../../worker/create-relay.ts';
import { type RunningRelay, startNodeRelay } from '../../worker/runtime/node.ts';
import { controlledBody, within } from '../support/relay.ts';
import { forge, rs256, tamper, unsigned } from './tokens.ts';

const ADMIN_KEYS = ['admin-key-NEW-4f1c9a7e2b5d8c30', 'admin-key-OLD-9d2e7b4a1c6f3e85'];
const TOKEN_SECRET = 'token-secret-SECRET-0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const CARTESIA_KEY = 'sk_car_SECRET_5e8d1c7b3a9f2e64';

interface Capture {
  relay: RunningRelay;
  logs: string[];
  responses: string[];
  tokens: string[];
}

let running: RunningRelay | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function capture(env: Record<string, string>): Promise<Capture> {
  const logs: string[] = [];
  const relay = await startNodeRelay({ port: 0, host: '127.0.0.1', writeLog: (line) => logs.push(line), env: { TTS_PROVIDER: 'espeak', LOG_LEVEL: 'debug', RELAY_UPLOAD_IDLE_MS: '300', ...env } });
  running = relay;
  return { relay, logs, responses: [], tokens: [] };
}

async function record(c: Capture, path: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
  const { key, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (key !== undefined) headers.set('authorization', `Bearer ${key}`);
  const response = await fetch(new URL(path, c.relay.url), { ...rest, headers, ...(rest.body instanceof ReadableStream ? ({ duplex: 'half' } as object) : {}) });
  const body = await response.clone().text();
  c.responses.push(`${response.status} ${JSON.stringify([...response.headers])} ${body}`);
  if (path === '/v1/tokens' && response.status === 201) c.tokens.push((JSON.parse(body) as { token: string }).token);
  return response;
}

/** Opens a socket and records how the upgrade or the socket ended: status, headers, close code and reason, messages. */
async function recordSocket(
  c: Capture,
  path: string,
  options: { protocols?: string[]; headers?: Record<string, string>; send?: string | Buffer; handshake?: string[] } = {},
): Promise<void> {
  const socket = new WebSocket(new URL(path, c.relay.url.replace(/^http/, 'ws')), options.protocols ?? [], { headers: options.headers ?? {} });
  await within(
    new Promise<void>((resolve) => {
      socket.on('upgrade', (response) => (options.handshake ?? c.responses).push(`101 ${JSON.stringify(response.headers)}`));
      socket.on('message', (data) => c.responses.push(`message ${data.toString()}`));
      socket.once('unexpected-response', (_request, response) => {
        c.responses.push(`${response.statusCode} ${JSON.stringify(response.headers)}`);
        response.destroy();
        resolve();
      });
      socket.once('open', () => {
        if (options.send !== undefined) socket.send(options.send);
        setTimeout(() => socket.close(), 100);
      });
      socket.once('close', (code, reason) => {
        c.responses.push(`close ${code} ${reason.toString()}`);
        resolve();
      });
      socket.once('error', () => resolve());
    }),
    5000,
    `socket ${path}`,
  );
}

/** Everything a client or an operator could see. */
async function exercise(c: Capture, adminKey: string, oldAdminKey?: string): Promise<void> {
  const mint = (body: unknown, key = adminKey) => record(c, '/v1/tokens', { method: 'POST', key, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect((await mint({ streams: ['kitchen', 'home/*'], actions: ['speak', 'listen', 'cancel'], label: 'secrets test' })).status).toBe(201);
  if (oldAdminKey) expect((await mint({ streams: ['kitchen'], actions: ['listen'] }, oldAdminKey)).status).toBe(201);
  await mint({ streams: ['kitchen'], actions: ['listen'], expires_in: 10_000_000 });
  await mint({ streams: ['../etc'], actions: ['root'] });
  await mint('{not json');
  const token = c.tokens[0]!;

  expect((await record(c, '/v1/streams/kitchen/speak?wait=true', { method: 'POST', key: token, body: 'The secrets stay secret.' })).status).toBe(200);
  await record(c, '/v1/streams/kitchen/speak', { method: 'POST', key: adminKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'As JSON.' }) });
  await record(c, '/v1/streams/kitchen', { key: token });
  await record(c, '/v1/streams/kitchen/cancel', { method: 'POST', key: token });
  await record(c, '/v1/tokens', { method: 'POST', key: token, headers: { 'content-type': 'application/json' }, body: '{}' });
  await record(c, '/v1/streams/garage/speak', { method: 'POST', key: token, body: 'Not my stream.' });
  await record(c, '/metrics', { key: adminKey });
  await record(c, '/metrics', { key: token });
  await record(c, '/healthz');

  // Wrong credentials of every kind, including ones that differ from the real key in one character.
  const now = Math.floor(Date.now() / 1000);
  const bad = [
    `${adminKey.slice(0, -1)}x`,
    adminKey.toUpperCase(),
    `${adminKey} ${adminKey}`,
    tamper(token, { streams: ['*'] }),
    await forge({ exp: now - 1, iat: now - 100, nbf: now - 100 }, { secret: TOKEN_SECRET }),
    await forge({ nbf: now + 1000, exp: now + 2000 }, { secret: TOKEN_SECRET }),
    await forge({}, { secret: TOKEN_SECRET, alg: 'HS512' }),
    await rs256({}),
    unsigned({}),
    `${token}.${token}`,
  ];
  for (const credential of bad) await record(c, '/v1/streams/kitchen', { key: credential });
  await record(c, `/v1/streams/kitchen?token=${adminKey}`);

  // Hostile bodies.
  await record(c, '/v1/streams/kitchen/speak', { method: 'POST', key: token, body: new Uint8Array([0xff, 0xfe, 0x00, 0x41]) });
  await record(c, '/v1/streams/kitchen/speak', { method: 'POST', key: token, headers: { 'content-type': 'application/x-ndjson' }, body: `{"text":"${adminKey}"\n` });
  await record(c, '/v1/streams/kitchen/speak', { method: 'POST', key: token, headers: { 'content-type': 'application/json' }, body: `{"text": 1, "voice": "${token}"}` });
  await record(c, `/v1/streams/${encodeURIComponent(adminKey)}%2F..%2Fx/speak`, { method: 'POST', key: token, body: 'x' });
  const stalled = controlledBody();
  const stalledResponse = record(c, '/v1/streams/kitchen/speak', { method: 'POST', key: token, body: stalled.body });
  stalled.write('Stalling now');
  await stalledResponse;

  // WebSockets: every way to carry a credential, right and wrong.
  await recordSocket(c, '/v1/streams/kitchen/listen', { headers: { authorization: `Bearer ${token}` } });
  await recordSocket(c, `/v1/streams/kitchen/listen?token=${token}`);
  await recordSocket(c, '/v1/streams/kitchen/listen', { protocols: ['tts-relay', `tts-relay.token.${token}`] });
  // Offered alone, the token entry is the only protocol the relay may answer with (a browser fails a handshake
  // that gets none back): it goes back to the client that sent it, in that handshake and nowhere else.
  const echoed: string[] = [];
  await recordSocket(c, '/v1/streams/kitchen/listen', { protocols: [`tts-relay.token.${token}`], handshake: echoed });
  expect(echoed).toEqual([expect.stringContaining(`"sec-websocket-protocol":"tts-relay.token.${token}"`)]);
  await recordSocket(c, `/v1/streams/kitchen/listen?token=${adminKey}`);
  await recordSocket(c, '/v1/streams/kitchen/listen', { protocols: ['tts-relay', `tts-relay.token.${adminKey}`] });
  await recordSocket(c, `/v1/streams/kitchen/listen?token=${tamper(token, { actions: ['listen'] })}`);
  await recordSocket(c, '/v1/streams/kitchen/listen', { headers: { authorization: `Bearer ${token}` }, send: `chatter ${adminKey}` });
  await recordSocket(c, '/v1/streams/kitchen/publish', { headers: { authorization: `Bearer ${token}` }, send: JSON.stringify({ type: 'text', text: 'Published.', voice: token }) });
  await recordSocket(c, '/v1/streams/kitchen/publish', { headers: { authorization: `Bearer ${token}` }, send: `{"type":"${adminKey}"}` });
  await recordSocket(c, `/tts/websocket?api_key=${adminKey}`);
  await recordSocket(c, `/tts/websocket?access_token=${token}&cartesia_version=2026-03-01`, { send: JSON.stringify({ transcript: 'Hello.', context_id: 'c1', continue: false, model_id: 'sonic-3.5', voice: { mode: 'id', id: 'v' }, output_format: { container: 'raw', encoding: 'pcm_f32le', sample_rate: 44100 } }) });
  await recordSocket(c, '/tts/websocket', { headers: { 'x-api-key': `${adminKey}-wrong` } });
}

function leaks(haystack: string[], needles: string[]): Array<{ needle: string; line: string }> {
  const found: Array<{ needle: string; line: string }> = [];
  for (const line of haystack) for (const needle of needles) if (line.includes(needle)) found.push({ needle: needle.slice(0, 12), line: line.slice(0, 300) });
  return found;
}

describe('secrets never leave the relay', () => {
  it('keeps admin keys, the token secret, the Cartesia key and tokens out of logs, responses and close reasons', async () => {
    const c = await capture({ RELAY_ADMIN_KEY: ADMIN_KEYS.join(','), RELAY_TOKEN_SECRET: TOKEN_SECRET, CARTESIA_API_KEY: CARTESIA_KEY });
    await exercise(c, ADMIN_KEYS[0]!, ADMIN_KEYS[1]!);
    await c.relay.close();

    expect(c.logs.length).toBeGreaterThan(40);
    expect(c.responses.length).toBeGreaterThan(50);
    expect(c.tokens.length).toBe(2);
    const secrets = [...ADMIN_KEYS, TOKEN_SECRET, CARTESIA_KEY];
    expect(leaks(c.logs, [...secrets, ...c.tokens])).toEqual([]);
    // No JWT of any kind, minted or forged, reaches a log line.
    expect(c.logs.filter((line) => /eyJ[\w-]+\.[\w-]+/.test(line))).toEqual([]);
    expect(leaks(c.responses, secrets)).toEqual([]);
    // A token appears only in the answer that minted it.
    const minting = c.responses.filter((r) => r.startsWith('201 '));
    expect(leaks(c.responses.filter((r) => !minting.includes(r)), c.tokens)).toEqual([]);
    // The paths that failed were logged (the capture really saw them), redacted.
    expect(c.logs.some((line) => line.includes('"status":401'))).toBe(true);
    expect(c.logs.some((line) => line.includes('token minted'))).toBe(true);
  });

  it('never logs a generated admin key or a key derived from it', async () => {
    const c = await capture({ RELAY_ADMIN_KEY: '', RELAY_TOKEN_SECRET: '' });
    const adminKey = c.relay.adminKey;
    await exercise(c, adminKey);
    await c.relay.close();
    expect(c.logs.some((line) => line.includes('RELAY_TOKEN_SECRET is not set') && line.includes('this process exits'))).toBe(true);
    expect(leaks(c.logs, [adminKey, ...c.tokens])).toEqual([]);
    expect(c.logs.filter((line) => /eyJ[\w-]+\.[\w-]+/.test(line))).toEqual([]);
    expect(leaks(c.responses, [adminKey])).toEqual([]);
  });

  it('redacts JWTs anywhere in a line, whatever signed them', () => {
    const redact = redactor(['a-configured-secret']);
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    expect(redact(JSON.stringify({ msg: `got ${jwt} and tts-relay.token.${jwt}, a-configured-secret`, url: `/x?token=${jwt}&y=1` }))).toBe(
      JSON.stringify({ msg: 'got [token] and tts-relay.token.[token], [redacted]', url: '/x?token=[token]&y=1' }),
    );
  });
});
