/** Authentication: one middleware that turns credentials into a principal, and one check per route. */
import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { RelayError } from '../shared/errors.ts';

export type Action = 'speak' | 'listen' | 'cancel' | 'status' | 'admin';

export interface Principal {
  kind: 'admin';
}

export type AuthVariables = { principal: Principal };

/** The bearer credential of a request; WebSocket upgrades may carry it as `?token=` instead. */
export function credentialOf(request: Request): string | null {
  const header = request.headers.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1]! : null;
  }
  if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
    return new URL(request.url).searchParams.get('token');
  }
  return null;
}

/** Turns a credential (admin key or token) into a principal; throws a 401 RelayError when it is not valid. */
export async function authenticate(credential: string, adminKeys: readonly string[]): Promise<Principal> {
  if (await matchesAny(credential, adminKeys)) return { kind: 'admin' };
  throw new RelayError('unauthorized', 'The key or token is not valid.');
}

export function requireAuth(adminKeys: readonly string[]): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const credential = credentialOf(c.req.raw);
    if (!credential) throw new RelayError('unauthorized');
    c.set('principal', await authenticate(credential, adminKeys));
    await next();
  };
}

/** Whether the principal may do `action` on `stream`; throws `forbidden` when not. */
export function authorize(principal: Principal, _action: Action, _stream?: string): void {
  if (principal.kind === 'admin') return;
  throw new RelayError('forbidden');
}

async function matchesAny(credential: string, keys: readonly string[]): Promise<boolean> {
  let matched = false;
  // Compare against every key so the time taken does not reveal which one (or whether any) matched.
  for (const key of keys) if (await timingSafeEqual(credential, key)) matched = true;
  return matched;
}
