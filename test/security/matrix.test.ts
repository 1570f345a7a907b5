/**
 * Every route and WebSocket × token actions × stream scopes × token states: who gets in, and with which
 * code when not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenAction } from '../../shared/api.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';
import { forge, mint, openSocket, rs256, tamper, TEST_TOKEN_SECRET, unsigned } from './tokens.ts';

type Credential = { header?: string; query?: string; subprotocol?: string };
type RouteAction = TokenAction | 'status' | 'admin';

interface Route {
  name: string;
  action: RouteAction;
  /** Where the credential goes for this route. */
  carry: 'header' | 'query' | 'subprotocol';
  /** The status meaning "allowed". */
  ok: number;
  call(stream: string, credential: string | undefined): Promise<{ status: number; code?: string }>;
}

let relay: TestRelay;

async function http(path: string, init: RequestInit, credential: string | undefined): Promise<{ status: number; code?: string }> {
  const response = await relay.request(path, { ...init, key: credential ?? null });
  const body = await response.text();
  const code = response.status >= 400 ? (JSON.parse(body) as { error: { code: string } }).error.code : undefined;
  expect(response.headers.get('x-error-code') ?? undefined).toBe(code);
  return { status: response.status, ...(code ? { code } : {}) };
}

async function socket(path: string, credential: Credential): Promise<{ status: number; code?: string }> {
  const outcome = await openSocket(relay.url, path, credential);
  if (outcome.socket) {
    if (credential.subprotocol !== undefined) expect(outcome.protocol).toBe('tts-relay');
    outcome.socket.close();
  }
  return { status: outcome.status, ...(outcome.code ? { code: outcome.code } : {}) };
}

const ROUTES: Route[] = [
  { name: 'POST speak', action: 'speak', carry: 'header', ok: 202, call: (s, k) => http(`/v1/streams/${s}/speak`, { method: 'POST', body: 'Hi.', headers: { 'content-type': 'text/plain' } }, k) },
  { name: 'POST cancel', action: 'cancel', carry: 'header', ok: 200, call: (s, k) => http(`/v1/streams/${s}/cancel`, { method: 'POST' }, k) },
  { name: 'GET status', action: 'status', carry: 'header', ok: 200, call: (s, k) => http(`/v1/streams/${s}`, {}, k) },
  { name: 'WS listen (Authorization)', action: 'listen', carry: 'header', ok: 101, call: (s, k) => socket(`/v1/streams/${s}/listen`, k === undefined ? {} : { header: k }) },
  { name: 'WS listen (?token=)', action: 'listen', carry: 'query', ok: 101, call: (s, k) => socket(`/v1/streams/${s}/listen`, k === undefined ? {} : { query: k }) },
  { name: 'WS listen (subprotocol)', action: 'listen', carry: 'subprotocol', ok: 101, call: (s, k) => socket(`/v1/streams/${s}/listen`, k === undefined ? {} : { subprotocol: k }) },
  { name: 'WS publish (Authorization)', action: 'speak', carry: 'header', ok: 101, call: (s, k) => socket(`/v1/streams/${s}/publish`, k === undefined ? {} : { header: k }) },
  { name: 'WS publish (?token=)', action: 'speak', carry: 'query', ok: 101, call: (s, k) => socket(`/v1/streams/${s}/publish`, k === undefined ? {} : { query: k }) },
  {
    name: 'POST /v1/tokens',
    action: 'admin',
    carry: 'header',
    ok: 201,
    call: (s, k) => http('/v1/tokens', { method: 'POST', body: JSON.stringify({ streams: [s], actions: ['listen'] }), headers: { 'content-type': 'application/json' } }, k),
  },
  { name: 'GET /metrics', action: 'admin', carry: 'header', ok: 200, call: (_s, k) => http('/metrics', {}, k) },
];

const SCOPES: Array<{ scope: string; stream: string; covered: boolean }> = [
  { scope: 'kitchen', stream: 'kitchen', covered: true },
  { scope: 'home/*', stream: 'home/hall', covered: true },
  { scope: 'home/*', stream: 'home/hall/lamp', covered: true },
  { scope: '*', stream: 'any.where', covered: true },
  { scope: 'kitchen', stream: 'garage', covered: false },
  { scope: 'kitchen', stream: 'kitchen/sub', covered: false },
  { scope: 'home/*', stream: 'home', covered: false },
  { scope: 'home/*', stream: 'homestead/hall', covered: false },
];

const ACTION_SETS: TokenAction[][] = [['speak'], ['listen'], ['cancel'], ['speak', 'listen', 'cancel']];

const allowed = (route: Route, actions: TokenAction[], covered: boolean): boolean =>
  route.action !== 'admin' && covered && (route.action === 'status' || actions.includes(route.action));

beforeAll(async () => {
  relay = await startTestRelay({ RELAY_TOKEN_SECRET: TEST_TOKEN_SECRET, RELAY_MAX_QUEUE: '1000', RELAY_PLAYOUT_LEAD_MS: '600000' });
  // Streams exist before the matrix runs, so an allowed status answers 200 rather than stream_not_found.
  const streams = new Set(SCOPES.map((s) => s.stream));
  for (const stream of streams) expect((await relay.speak(stream, 'Ready.')).status).toBe(202);
});

afterAll(async () => {
  await relay?.close();
});

describe('actions × scopes on every route', () => {
  const cases = ROUTES.flatMap((route) =>
    ACTION_SETS.flatMap((actions) => SCOPES.map(({ scope, stream, covered }) => ({ route, actions, scope, stream, covered }))),
  );

  it.each(cases.map((c) => [`${c.route.name} on ${c.stream} with a token for [${c.actions.join(',')}] on ${c.scope}`, c] as const))('%s', async (_name, c) => {
    const { token } = await mint(relay, { streams: [c.scope], actions: c.actions, rate: 1000, burst: 1000 });
    const outcome = await c.route.call(c.stream, token);
    expect(outcome).toEqual(allowed(c.route, c.actions, c.covered) ? { status: c.route.ok } : { status: 403, code: 'forbidden' });
  });
});

describe('token states on every route', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const STATES: Array<{ state: string; credential: () => Promise<string | undefined>; expect: (route: Route) => { status: number; code?: string } }> = [
    { state: 'admin key', credential: async () => TEST_ADMIN_KEY, expect: (r) => (r.carry === 'header' ? { status: r.ok } : { status: 401, code: 'unauthorized' }) },
    { state: 'valid token for everything', credential: async () => (await mint(relay, { streams: ['*'], actions: ['speak', 'listen', 'cancel'], rate: 1000, burst: 1000 })).token, expect: (r) => (r.action === 'admin' ? { status: 403, code: 'forbidden' } : { status: r.ok }) },
    { state: 'expired', credential: () => forge({ iat: now() - 1000, nbf: now() - 1000, exp: now() - 1 }), expect: () => ({ status: 401, code: 'token_expired' }) },
    { state: 'not yet valid', credential: () => forge({ nbf: now() + 3600, exp: now() + 7200 }), expect: () => ({ status: 401, code: 'token_not_yet_valid' }) },
    { state: 'tampered', credential: async () => tamper((await mint(relay, { streams: ['nothing'], actions: ['listen'] })).token, { streams: ['*'], actions: ['speak', 'listen', 'cancel'] }), expect: () => ({ status: 401, code: 'token_invalid' }) },
    { state: 'alg none', credential: async () => unsigned({}), expect: () => ({ status: 401, code: 'token_invalid' }) },
    { state: 'HS512', credential: () => forge({}, { alg: 'HS512' }), expect: () => ({ status: 401, code: 'token_invalid' }) },
    { state: 'RS256', credential: () => rs256({}), expect: () => ({ status: 401, code: 'token_invalid' }) },
    { state: 'signed with another secret', credential: () => forge({}, { secret: 'not-the-relay-secret-0123456789abcdef' }), expect: () => ({ status: 401, code: 'token_invalid' }) },
    { state: 'garbage', credential: async () => 'not-a-key-and-not-a-token', expect: () => ({ status: 401, code: 'unauthorized' }) },
    { state: 'missing', credential: async () => undefined, expect: () => ({ status: 401, code: 'unauthorized' }) },
  ];
  const cases = STATES.flatMap((state) => ROUTES.map((route) => ({ state, route })));

  it.each(cases.map((c) => [`${c.state.state} → ${c.route.name}`, c] as const))('%s', async (_name, { state, route }) => {
    const outcome = await route.call('kitchen', await state.credential());
    expect(outcome).toEqual(state.expect(route));
  });
});
