import { describe, expect, it } from 'vitest';
import { RelayError } from '../../shared/errors.ts';
import { authenticate, authorize, createAuthenticator, type Principal, selectSubprotocol, tokenSubprotocol } from '../../worker/security/auth.ts';
import { loadConfig } from '../../worker/ops/config.ts';
import { RateLimiter } from '../../worker/security/rate-limit.ts';
import { scopeCovers, TokenService } from '../../worker/security/tokens.ts';
import { forge, rs256, tamper, TEST_TOKEN_SECRET, unsigned } from './tokens.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const TOKENS = { secrets: [TEST_TOKEN_SECRET], defaultTtlSeconds: 900, maxTtlSeconds: 86_400, ratePerSecond: 10, burst: 20 };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof RelayError) return error.code;
    throw error;
  }
}

function codeOfSync(run: () => void): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    if (error instanceof RelayError) return error.code;
    throw error;
  }
}

describe('token service', () => {
  it('mints a token that verifies, with the default lifetime and rate', async () => {
    let now = 1_800_000_000_000;
    const service = new TokenService(TOKENS, [ADMIN], () => now);
    const minted = await service.mint({ streams: ['kitchen', 'home/*'], actions: ['listen', 'listen', 'speak'], label: 'tablet' });
    expect(minted.claims).toMatchObject({ iss: 'tts-relay', iat: 1_800_000_000, exp: 1_800_000_900, streams: ['kitchen', 'home/*'], actions: ['listen', 'speak'], sub: 'tablet' });
    expect(minted.token.split('.')).toHaveLength(3);
    const verified = await service.verify(minted.token);
    expect(verified).toMatchObject({ id: minted.claims.jti, streams: ['kitchen', 'home/*'], actions: ['listen', 'speak'], rate: { perSecond: 10, burst: 20 }, subject: 'tablet' });
    now += 900_000;
    expect(await codeOf(service.verify(minted.token))).toBe('token_expired');
  });

  it('refuses a lifetime above the maximum instead of shortening it silently', async () => {
    const service = new TokenService(TOKENS, [ADMIN]);
    expect(await codeOf(service.mint({ streams: ['a'], actions: ['listen'], expires_in: 86_401 }))).toBe('bad_request');
    expect(await codeOf(service.mint({ streams: ['a'], actions: ['listen'], expires_in: 86_400 }))).toBe('ok');
  });

  it('rejects wrong algorithms, tampering, foreign secrets and missing claims as token_invalid', async () => {
    const service = new TokenService(TOKENS, [ADMIN]);
    const good = (await service.mint({ streams: ['kitchen'], actions: ['listen'] })).token;
    const cases: Record<string, string> = {
      'alg none': unsigned({}),
      HS512: await forge({}, { alg: 'HS512' }),
      HS384: await forge({}, { alg: 'HS384' }),
      RS256: await rs256({}),
      'another secret': await forge({}, { secret: 'another-secret-0123456789abcdef0123456789' }),
      'payload widened': tamper(good, { streams: ['*'], actions: ['speak', 'listen', 'cancel'] }),
      'signature cut': good.slice(0, good.lastIndexOf('.') + 1),
      'signature flipped': good.slice(0, -2) + (good.endsWith('A') ? 'BA' : 'AA'),
      'no exp': await forge({ exp: undefined }),
      'wrong issuer': await forge({ iss: 'someone-else' }),
      'bad scope': await forge({ streams: ['../etc'] }),
      'unknown action': await forge({ actions: ['admin'] }),
      'lives too long': await forge({ exp: Math.floor(Date.now() / 1000) + 86_400 * 2 }),
      'not a JWT': 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln',
      huge: `${good}${'A'.repeat(5000)}`,
    };
    for (const [name, token] of Object.entries(cases)) expect({ name, code: await codeOf(service.verify(token)) }).toEqual({ name, code: 'token_invalid' });
  });

  it('tells expired from not-yet-valid, and checks the signature before either', async () => {
    const service = new TokenService(TOKENS, [ADMIN]);
    const now = Math.floor(Date.now() / 1000);
    expect(await codeOf(service.verify(await forge({ iat: now - 1000, nbf: now - 1000, exp: now - 1 })))).toBe('token_expired');
    expect(await codeOf(service.verify(await forge({ nbf: now + 3600, exp: now + 7200 })))).toBe('token_not_yet_valid');
    expect(await codeOf(service.verify(await forge({ iat: now + 3600, nbf: now + 3600, exp: now + 7200 })))).toBe('token_not_yet_valid');
    // Within the clock skew allowance, a token minted on an instance slightly ahead is accepted.
    expect(await codeOf(service.verify(await forge({ iat: now + 10, nbf: now + 10 })))).toBe('ok');
    const foreignExpired = await forge({ exp: now - 1, iat: now - 100, nbf: now - 100 }, { secret: 'another-secret-0123456789abcdef0123456789' });
    expect(await codeOf(service.verify(foreignExpired))).toBe('token_invalid');
  });

  it('verifies with every configured secret and signs with the first (rotation)', async () => {
    const old = new TokenService({ ...TOKENS, secrets: ['old-secret-0123456789abcdef0123456789ab'] }, [ADMIN]);
    const rotated = new TokenService({ ...TOKENS, secrets: ['new-secret-0123456789abcdef0123456789ab', 'old-secret-0123456789abcdef0123456789ab'] }, [ADMIN]);
    const fromOld = (await old.mint({ streams: ['a'], actions: ['speak'] })).token;
    const fromNew = (await rotated.mint({ streams: ['a'], actions: ['speak'] })).token;
    expect(await codeOf(rotated.verify(fromOld))).toBe('ok');
    expect(await codeOf(old.verify(fromNew))).toBe('token_invalid');
  });

  it('without RELAY_TOKEN_SECRET derives the key from the admin keys, never using the key itself', async () => {
    const derived = new TokenService({ ...TOKENS, secrets: [] }, [ADMIN]);
    expect(derived.keySource).toBe('derived');
    const token = (await derived.mint({ streams: ['a'], actions: ['speak'] })).token;
    expect(await codeOf(new TokenService({ ...TOKENS, secrets: [] }, ['new-admin-key-0123456789', ADMIN]).verify(token))).toBe('ok');
    expect(await codeOf(new TokenService({ ...TOKENS, secrets: [] }, ['other-admin-key-0123456789']).verify(token))).toBe('token_invalid');
    expect(await codeOf(new TokenService({ ...TOKENS, secrets: [ADMIN.padEnd(32, 'x')] }, [ADMIN]).verify(token))).toBe('token_invalid');
    expect(await codeOf(derived.verify(await forge({}, { secret: ADMIN })))).toBe('token_invalid');
  });
});

describe('scopes and actions', () => {
  it('matches exact names, prefix/* at any depth (not the prefix itself), and *', () => {
    expect(scopeCovers('kitchen', 'kitchen')).toBe(true);
    expect(scopeCovers('kitchen', 'kitchen2')).toBe(false);
    expect(scopeCovers('kitchen', 'kitchen/sub')).toBe(false);
    expect(scopeCovers('home/*', 'home/hall')).toBe(true);
    expect(scopeCovers('home/*', 'home/hall/lamp')).toBe(true);
    expect(scopeCovers('home/*', 'home')).toBe(false);
    expect(scopeCovers('home/*', 'homestead/hall')).toBe(false);
    expect(scopeCovers('*', 'anything/at/all')).toBe(true);
  });

  it('authorizes a token for its actions on its streams, status with any action, and never admin', () => {
    const token: Principal = { kind: 'token', id: 't', streams: ['home/*'], actions: ['listen'], rate: { perSecond: 1, burst: 1 }, expiresAt: 0 };
    expect(codeOfSync(() => authorize(token, 'listen', 'home/hall'))).toBe('ok');
    expect(codeOfSync(() => authorize(token, 'status', 'home/hall'))).toBe('ok');
    expect(codeOfSync(() => authorize(token, 'speak', 'home/hall'))).toBe('forbidden');
    expect(codeOfSync(() => authorize(token, 'cancel', 'home/hall'))).toBe('forbidden');
    expect(codeOfSync(() => authorize(token, 'listen', 'garage'))).toBe('forbidden');
    expect(codeOfSync(() => authorize(token, 'status', 'garage'))).toBe('forbidden');
    expect(codeOfSync(() => authorize(token, 'admin'))).toBe('forbidden');
    expect(codeOfSync(() => authorize({ kind: 'admin' }, 'admin'))).toBe('ok');
  });
});

describe('authenticate', () => {
  const config = loadConfig({ RELAY_ADMIN_KEY: `${ADMIN},second-admin-key-0123456789`, RELAY_TOKEN_SECRET: TEST_TOKEN_SECRET }, () => 'unused');

  it('accepts every admin key in the header, and refuses admin keys in URLs and subprotocols', async () => {
    const auth = createAuthenticator(config);
    expect(await authenticate({ value: ADMIN, source: 'header' }, auth)).toEqual({ kind: 'admin' });
    expect(await authenticate({ value: 'second-admin-key-0123456789', source: 'header' }, auth)).toEqual({ kind: 'admin' });
    expect(await codeOf(authenticate({ value: ADMIN, source: 'query' }, auth))).toBe('unauthorized');
    expect(await codeOf(authenticate({ value: ADMIN, source: 'subprotocol' }, auth))).toBe('unauthorized');
    expect(await codeOf(authenticate({ value: `${ADMIN}x`, source: 'header' }, auth))).toBe('unauthorized');
    expect(await codeOf(authenticate({ value: '', source: 'header' }, auth))).toBe('unauthorized');
  });

  it('counts each request against the token bucket: 429 rate_limited with the wait, then refills', async () => {
    let now = 0;
    const auth = { ...createAuthenticator(config), rateLimiter: new RateLimiter(() => now) };
    const { token } = await auth.tokens.mint({ streams: ['a'], actions: ['speak'], rate: 2, burst: 3 });
    for (let i = 0; i < 3; i++) expect((await authenticate({ value: token, source: 'header' }, auth)).kind).toBe('token');
    const limited = await authenticate({ value: token, source: 'header' }, auth).catch((error: RelayError) => error);
    expect(limited).toBeInstanceOf(RelayError);
    expect((limited as RelayError).code).toBe('rate_limited');
    expect((limited as RelayError).retryAfter).toBeCloseTo(0.5, 5);
    now += 500;
    expect((await authenticate({ value: token, source: 'header' }, auth)).kind).toBe('token');
    expect(await codeOf(authenticate({ value: token, source: 'header' }, auth))).toBe('rate_limited');
    // Another token has its own bucket.
    const other = await auth.tokens.mint({ streams: ['a'], actions: ['speak'], rate: 2, burst: 3 });
    expect((await authenticate({ value: other.token, source: 'query' }, auth)).kind).toBe('token');
  });

  it('finds a token in a subprotocol offer and answers with tts-relay, never the token', () => {
    expect(tokenSubprotocol('tts-relay, tts-relay.token.eyJa.eyJb.c')).toBe('eyJa.eyJb.c');
    expect(tokenSubprotocol('tts-relay')).toBeNull();
    expect(tokenSubprotocol('tts-relay.token.')).toBeNull();
    expect(tokenSubprotocol(null)).toBeNull();
    expect(selectSubprotocol(['tts-relay.token.x.y.z', 'tts-relay'])).toBe('tts-relay');
    expect(selectSubprotocol(['chat', 'tts-relay.token.x.y.z'])).toBe('chat');
    expect(selectSubprotocol(['tts-relay.token.x.y.z'])).toBe('tts-relay.token.x.y.z');
    expect(selectSubprotocol([])).toBeUndefined();
  });
});
