/** Scoped tokens: short-lived HS256 JWTs that admins mint and every route verifies, with hono's JWT helpers. */
import { sign, verify } from 'hono/jwt';
import { z } from 'zod';
import { isValidStreamScope, TOKEN_ACTIONS, type TokenAction, type TokenRequest } from '../../shared/api.ts';
import { decodeBase64Url } from '../../shared/base64.ts';
import { RelayError } from '../../shared/errors.ts';
import type { TokenConfig } from '../ops/config.ts';
import type { Rate, VerifiedToken } from './principal.ts';

const ALGORITHM = 'HS256';
const ISSUER = 'tts-relay';
// Info string of the key derived from an admin key when RELAY_TOKEN_SECRET is unset; change it and every such token dies.
const DERIVATION_INFO = 'tts-relay token signing key v1';
// Instances of one deployment may disagree on the time by a little; a token minted on one is used on another at once.
const CLOCK_SKEW_SECONDS = 30;
// A relay token is a few hundred characters; anything far longer is not one and is not worth decoding.
const MAX_TOKEN_CHARS = 4096;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const claimsSchema = z.object({
  iss: z.literal(ISSUER),
  jti: z.string().min(1).max(64),
  iat: z.number().int(),
  nbf: z.number().int().optional(),
  exp: z.number().int(),
  streams: z.array(z.string().refine(isValidStreamScope)).min(1).max(64),
  actions: z.array(z.enum(TOKEN_ACTIONS)).min(1),
  rate: z.number().positive().optional(),
  burst: z.number().int().positive().optional(),
  sub: z.string().max(128).optional(),
});
export type TokenClaims = z.infer<typeof claimsSchema>;

export interface MintedToken {
  token: string;
  claims: TokenClaims;
  rate: Rate;
}

/** Whether a stream scope (`kitchen`, `home/*`, `*`) covers the stream `name`. */
export function scopeCovers(scope: string, name: string): boolean {
  if (scope === '*') return true;
  if (scope.endsWith('/*')) return name.startsWith(scope.slice(0, -1));
  return scope === name;
}

export class TokenService {
  private keys: Promise<CryptoKey[]> | null = null;

  constructor(
    private readonly config: TokenConfig,
    private readonly adminKeys: readonly string[],
    /** Wall clock, milliseconds since the epoch. */
    private readonly clock: () => number = Date.now,
  ) {}

  /** Where the signing key comes from: RELAY_TOKEN_SECRET, or derived from the admin keys. */
  get keySource(): 'configured' | 'derived' {
    return this.config.secrets.length > 0 ? 'configured' : 'derived';
  }

  /** Signs a token for `request`; throws `bad_request` when it asks for more time than allowed. */
  async mint(request: TokenRequest): Promise<MintedToken> {
    const ttl = request.expires_in ?? this.config.defaultTtlSeconds;
    if (ttl > this.config.maxTtlSeconds) {
      throw new RelayError('bad_request', `expires_in may be at most ${this.config.maxTtlSeconds} seconds on this relay.`);
    }
    const now = Math.floor(this.clock() / 1000);
    const claims: TokenClaims = {
      iss: ISSUER,
      jti: newTokenId(),
      iat: now,
      nbf: now,
      exp: now + ttl,
      streams: [...new Set(request.streams)],
      actions: [...new Set(request.actions)],
      ...(request.rate !== undefined ? { rate: request.rate } : {}),
      ...(request.burst !== undefined ? { burst: request.burst } : {}),
      ...(request.label !== undefined ? { sub: request.label } : {}),
    };
    const [signingKey] = await this.loadKeys();
    const token = await sign(claims, signingKey!, ALGORITHM);
    return { token, claims, rate: this.rateOf(claims) };
  }

  /**
   * Checks a token's algorithm and signature first, then its claims and times. Throws `token_invalid`,
   * `token_expired` or `token_not_yet_valid`; messages never repeat the token.
   */
  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_CHARS || !JWT_SHAPE.test(token)) throw invalid('The credential is not a relay token.');
    if (headerOf(token)?.alg !== ALGORITHM) throw invalid(`Relay tokens are signed with ${ALGORITHM}; this one is not.`);
    let payload: unknown = null;
    for (const key of await this.loadKeys()) {
      try {
        // Times are checked below, after the signature, so a forged token learns nothing about them.
        payload = await verify(token, key, { alg: ALGORITHM, exp: false, nbf: false, iat: false });
        break;
      } catch {
        // Wrong key (or a malformed token): try the next secret.
      }
    }
    if (payload === null) throw invalid('The token signature does not verify.');
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw invalid('The token does not carry a relay token\'s claims.');
    const claims = parsed.data;
    const now = Math.floor(this.clock() / 1000);
    const start = Math.max(claims.nbf ?? claims.iat, claims.iat);
    if (start > now + CLOCK_SKEW_SECONDS) throw new RelayError('token_not_yet_valid', `The token is valid from ${new Date(start * 1000).toISOString()}.`);
    if (claims.exp <= now) throw new RelayError('token_expired', `The token expired at ${new Date(claims.exp * 1000).toISOString()}; mint a new one.`);
    // Lowering RELAY_TOKEN_MAX_TTL_S also retires tokens minted for longer before.
    if (claims.exp - claims.iat > this.config.maxTtlSeconds) throw invalid('The token lives longer than this relay allows.');
    return {
      id: claims.jti,
      streams: claims.streams,
      actions: claims.actions,
      rate: this.rateOf(claims),
      expiresAt: claims.exp * 1000,
      ...(claims.sub !== undefined ? { subject: claims.sub } : {}),
    };
  }

  private rateOf(claims: TokenClaims): Rate {
    const perSecond = claims.rate ?? this.config.ratePerSecond;
    return { perSecond, burst: claims.burst ?? (claims.rate !== undefined ? Math.max(1, Math.ceil(perSecond)) : this.config.burst) };
  }

  private loadKeys(): Promise<CryptoKey[]> {
    this.keys ??= this.config.secrets.length > 0
      ? Promise.all(this.config.secrets.map((secret) => hmacKey(utf8(secret))))
      : Promise.all(this.adminKeys.map(async (adminKey) => hmacKey(await derive(adminKey))));
    return this.keys;
  }
}

function invalid(message: string): RelayError {
  return new RelayError('token_invalid', message);
}

function headerOf(token: string): { alg?: unknown } | null {
  try {
    const json = new TextDecoder('utf-8', { fatal: true }).decode(decodeBase64Url(token.slice(0, token.indexOf('.'))));
    const header: unknown = JSON.parse(json);
    return typeof header === 'object' && header !== null ? (header as { alg?: unknown }) : null;
  } catch {
    return null;
  }
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

function hmacKey(raw: Uint8Array<ArrayBuffer> | ArrayBuffer): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

/** HMAC-SHA-256(admin key, info): a signing key that rotates with the admin keys and is never the key itself. */
async function derive(adminKey: string): Promise<ArrayBuffer> {
  return crypto.subtle.sign('HMAC', await hmacKey(utf8(adminKey)), utf8(DERIVATION_INFO));
}

function newTokenId(): string {
  return `tok_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
}
