/** How a Cartesia-style request authenticates (the ways Cartesia's SDKs send a key) and which stream it speaks on. */
import type { Context } from 'hono';
import { RelayError } from '../../../shared/errors.ts';
import { isValidStreamName } from '../../../shared/protocol.ts';
import type { Env } from '../../runtime/contract.ts';
import type { CompatIngress } from './ingress.ts';
import { cartesiaVersionOf } from './version.ts';
import { authenticate, type Credential, credentialOf, type Principal } from '../../security/auth.ts';

/** The stream a connection speaks on when neither the URL nor a single-stream token names one. */
export const DEFAULT_COMPAT_STREAM = 'default';

/** Every way Cartesia's SDKs and docs pass a key: the relay's own forms, `X-API-Key`, `?api_key=`, `?access_token=`. */
export function compatCredentialOf(request: Request): Credential | null {
  const relayForm = credentialOf(request);
  if (relayForm) return relayForm;
  const header = request.headers.get('x-api-key')?.trim();
  if (header) return { value: header, source: 'header' };
  const query = new URL(request.url).searchParams;
  const value = query.get('api_key') ?? query.get('access_token');
  return value ? { value, source: 'query' } : null;
}

/**
 * Authenticates a Cartesia-style request, checks its `Cartesia-Version` (after the key, as Cartesia does) and picks
 * its stream: named, else the credential's one stream, else `default`.
 */
export async function compatPrincipal(c: Context<Env>, ingress: CompatIngress, named: string | null): Promise<{ principal: Principal; stream: string }> {
  const credential = compatCredentialOf(c.req.raw);
  if (!credential) throw new RelayError('unauthorized', 'Send the relay key or token as Authorization: Bearer, X-API-Key, ?api_key= or ?access_token=.');
  const principal = await authenticate(credential, ingress.auth);
  cartesiaVersionOf(c.req.raw);
  const stream = named ?? claimedStream(principal) ?? DEFAULT_COMPAT_STREAM;
  if (!isValidStreamName(stream)) throw new RelayError('invalid_stream_name');
  return { principal, stream };
}

/** The one stream a token or API key covers, when it names exactly one (no wildcard). */
function claimedStream(principal: Principal): string | null {
  if (principal.kind === 'admin' || principal.streams.length !== 1) return null;
  const [scope] = principal.streams;
  return scope !== undefined && !scope.endsWith('*') ? scope : null;
}

