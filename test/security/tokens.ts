/** Token helpers for the security tests: mint through the relay, or forge with a known secret. */
import { sign } from 'hono/jwt';
import type { SignatureAlgorithm } from 'hono/utils/jwt/jwa';
import WebSocket from 'ws';
import type { TokenRequest, TokenResponse } from '../../shared/api.ts';
import { TOKEN_SUBPROTOCOL_PREFIX } from '../../shared/protocol.ts';
import { TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';

export const TEST_TOKEN_SECRET = 'test-token-secret-0123456789abcdef0123456789';

/** Mints a token through POST /v1/tokens with the admin key. */
export async function mint(relay: TestRelay, request: TokenRequest): Promise<TokenResponse> {
  const response = await relay.request('/v1/tokens', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (response.status !== 201) throw new Error(`mint failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as TokenResponse;
}

/** A relay token's claims, signed however the test likes (the relay signs HS256 with TEST_TOKEN_SECRET). */
export async function forge(
  claims: Record<string, unknown>,
  options: { secret?: string | CryptoKey; alg?: SignatureAlgorithm } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: 'tts-relay', jti: `tok_forged${Math.random().toString(16).slice(2, 10)}`, iat: now, nbf: now, exp: now + 600, streams: ['*'], actions: ['speak', 'listen', 'cancel'], ...claims };
  return sign(payload, options.secret ?? TEST_TOKEN_SECRET, options.alg ?? 'HS256');
}

/** `alg: none`: a header, a payload and no signature. */
export function unsigned(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ iss: 'tts-relay', jti: 'tok_none', iat: now, exp: now + 600, streams: ['*'], actions: ['speak', 'listen', 'cancel'], ...claims })}.`;
}

/** An RS256 token under a fresh key pair the relay has never seen. */
export async function rs256(claims: Record<string, unknown>): Promise<string> {
  const pair = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  return forge(claims, { secret: pair.privateKey, alg: 'RS256' });
}

/** The same token with its payload swapped for `claims` (signature kept): what tampering looks like. */
export function tamper(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const decoded = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  return `${header}.${Buffer.from(JSON.stringify({ ...decoded, ...claims })).toString('base64url')}.${signature}`;
}

export interface UpgradeOutcome {
  status: number;
  code?: string;
  /** The subprotocol the relay selected, when the socket opened. */
  protocol?: string;
  socket?: WebSocket;
}

/**
 * Opens a WebSocket to `path` carrying the credential as told; resolves with 101 (socket open) or the
 * refusal's status and X-Error-Code.
 */
export function openSocket(baseUrl: string, path: string, credential: { header?: string; query?: string; subprotocol?: string } = {}): Promise<UpgradeOutcome> {
  const url = new URL(path, baseUrl.replace(/^http/, 'ws'));
  if (credential.query !== undefined) url.searchParams.set('token', credential.query);
  const protocols = credential.subprotocol !== undefined ? ['tts-relay', `${TOKEN_SUBPROTOCOL_PREFIX}${credential.subprotocol}`] : [];
  const headers = credential.header !== undefined ? { authorization: `Bearer ${credential.header}` } : {};
  const socket = new WebSocket(url, protocols, { headers });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ status: 101, protocol: socket.protocol, socket }));
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, code: response.headers['x-error-code'] as string | undefined });
      response.destroy();
    });
    socket.once('error', reject);
  });
}

export { TEST_ADMIN_KEY };
