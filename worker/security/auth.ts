/** Authentication: one function that turns a credential into a principal, one middleware, and one check per route. */
import type { MiddlewareHandler } from 'hono';
import type { TokenAction } from '../../shared/api.ts';
import { RelayError } from '../../shared/errors.ts';
import { RELAY_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from '../../shared/protocol.ts';
import type { RelayConfig } from '../ops/config.ts';
import { RateLimiter } from './rate-limit.ts';
import type { Principal } from './principal.ts';
import { scopeCovers, TokenService } from './tokens.ts';
import { API_KEY_PREFIX, ApiKeys } from './api-keys.ts';
import { constantTimeEqual } from './constant-time.ts';

export type Action = TokenAction | 'status' | 'admin';

export type { Principal };

/** Where a credential came from: headers may carry admin keys, URLs and subprotocols only tokens and API keys. */
export type CredentialSource = 'header' | 'query' | 'subprotocol';

export interface Credential {
  value: string;
  source: CredentialSource;
}

/** What `authenticate` needs: the admin keys, the token verifier, the API keys and the per-credential request buckets. */
export interface Authenticator {
  readonly adminKeys: readonly string[];
  readonly tokens: TokenService;
  readonly apiKeys: ApiKeys;
  readonly rateLimiter: RateLimiter;
}

export function createAuthenticator(config: RelayConfig, options: { now?: () => number; wallClock?: () => number } = {}): Authenticator {
  return {
    adminKeys: config.adminKeys,
    tokens: new TokenService(config.tokens, config.adminKeys, options.wallClock),
    apiKeys: new ApiKeys(config.apiKeys, { perSecond: config.tokens.ratePerSecond, burst: config.tokens.burst }),
    rateLimiter: new RateLimiter(options.now ?? (() => performance.now())),
  };
}

/**
 * The credential of a request: `Authorization: Bearer …`; on a WebSocket upgrade also `?token=` or a
 * `tts-relay.token.<token>` subprotocol entry, since browsers cannot set headers on a WebSocket.
 */
export function credentialOf(request: Request): Credential | null {
  const header = request.headers.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? { value: match[1]!, source: 'header' } : null;
  }
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return null;
  const offered = tokenSubprotocol(request.headers.get('sec-websocket-protocol'));
  if (offered) return { value: offered, source: 'subprotocol' };
  const query = new URL(request.url).searchParams.get('token');
  return query ? { value: query, source: 'query' } : null;
}

/** The token inside a `Sec-WebSocket-Protocol` offer, if one entry carries it. */
export function tokenSubprotocol(header: string | null): string | null {
  for (const entry of (header ?? '').split(',')) {
    const protocol = entry.trim();
    if (protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX) && protocol.length > TOKEN_SUBPROTOCOL_PREFIX.length) {
      return protocol.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
    }
  }
  return null;
}

/**
 * The subprotocol to answer a WebSocket offer with: `tts-relay` when offered, else the first entry that
 * is not a token, else the first (a browser fails a handshake that offered protocols and got none back).
 */
export function selectSubprotocol(offered: Iterable<string>): string | undefined {
  const all = [...offered];
  if (all.includes(RELAY_SUBPROTOCOL)) return RELAY_SUBPROTOCOL;
  return all.find((protocol) => !protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) ?? all[0];
}

/**
 * Turns a credential (admin key, API key or token) into a principal: the one way any route authenticates.
 * A token's or key's request is counted against its rate limit here. Throws 401 `unauthorized` / `token_invalid` /
 * `token_expired` / `token_not_yet_valid`, or 429 `rate_limited`.
 */
export async function authenticate(credential: Credential, auth: Authenticator): Promise<Principal> {
  const { value, source } = credential;
  if (matchesAny(value, auth.adminKeys)) {
    // An admin key in a URL ends up in proxy logs and browser history: refuse it so nobody gets used to it.
    if (source !== 'header') throw new RelayError('unauthorized', 'Admin keys are accepted only in the Authorization header; mint a token for URLs and subprotocols.');
    return { kind: 'admin' };
  }
  if (value.startsWith(API_KEY_PREFIX)) {
    const key = await auth.apiKeys.verify(value);
    auth.rateLimiter.take(key.id, key.rate);
    return { kind: 'key', ...key };
  }
  if (!looksLikeToken(value)) throw new RelayError('unauthorized', 'The key or token is not valid.');
  const token = await auth.tokens.verify(value);
  auth.rateLimiter.take(token.id, token.rate);
  return { kind: 'token', ...token };
}

/** Authenticates every request it guards; with `action` it also checks that action (e.g. `admin` for /metrics). */
export function requireAuth(auth: Authenticator, action?: 'admin'): MiddlewareHandler<{ Variables: { principal: Principal } }> {
  return async (c, next) => {
    const credential = credentialOf(c.req.raw);
    if (!credential) throw new RelayError('unauthorized');
    const principal = await authenticate(credential, auth);
    if (action) authorize(principal, action);
    c.set('principal', principal);
    await next();
  };
}

/**
 * Whether the principal may do `action` on `stream`; throws 403 `forbidden` when not. Admin keys may do
 * everything. A token may do its actions on the streams its scopes cover, and read the `status` of those
 * streams with any action; `admin` (minting tokens) is never a token's.
 */
export function authorize(principal: Principal, action: Action, stream?: string): void {
  if (principal.kind === 'admin') return;
  if (action === 'admin') throw new RelayError('forbidden', 'Only an admin key may do this.');
  const allowed = action === 'status' || principal.actions.includes(action);
  if (!allowed) {
    throw new RelayError('forbidden', `This token may not ${action}: its actions are ${principal.actions.join(', ')}. Use a token minted with --actions ${action} (or the admin key).`);
  }
  if (stream === undefined || !principal.streams.some((scope) => scopeCovers(scope, stream))) {
    throw new RelayError('forbidden', `This token does not cover stream ${stream ?? '(none)'}: it covers ${principal.streams.join(', ')}.`);
  }
}

/**
 * Calls `onRevoked` when the principal's API key is revoked, so sockets it opened close at once (tokens expire
 * instead, and admin keys are not revocable one by one); returns the way to stop watching.
 */
export function watchRevocation(auth: Authenticator, principal: Principal, onRevoked: () => void): () => void {
  return principal.kind === 'key' ? auth.apiKeys.watch(principal.id, onRevoked) : () => {};
}

/** Three base64url parts: worth verifying as a token (anything else is a wrong key). */
function looksLikeToken(value: string): boolean {
  return value.split('.').length === 3;
}

function matchesAny(credential: string, keys: readonly string[]): boolean {
  let matched = false;
  // Compare against every key so the time taken does not reveal which one (or whether any) matched.
  for (const key of keys) if (constantTimeEqual(credential, key)) matched = true;
  return matched;
}
