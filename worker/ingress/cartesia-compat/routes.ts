/**
 * Cartesia-compatible ingress: an application written for Cartesia's TTS API, pointed at the relay with a relay
 * key or token in place of its API key, works unmodified. `GET /tts/websocket` (and `GET /cartesia/{stream}/tts/websocket`,
 * so a base URL can name the stream) takes contexts; `POST /tts/bytes`, `POST /tts/sse`, `GET /voices`,
 * `GET /voices/{id}` and `POST /access-token` answer as Cartesia's REST API does. Each generation becomes an
 * utterance on the stream; its client gets the audio on Cartesia's timing, the stream's listeners in turn.
 */
import { type Context, Hono } from 'hono';
import { RelayError } from '../../../shared/errors.ts';
import type { Env, RuntimeAdapter } from '../../runtime/contract.ts';
import type { CompatIngress } from './ingress.ts';
import { authorize, watchRevocation } from '../../security/auth.ts';
import { compatPrincipal } from './credentials.ts';
import { upgradeTextSession } from '../text-session.ts';
import { accessToken, bytes, sse } from './rest.ts';
import { getVoice, listVoices } from './voices.ts';
import { cartesiaErrorResponse } from './errors.ts';
import { CompatSession } from './session.ts';

const PATH_PREFIX = '/cartesia/';

type Handler = (c: Context<Env>, ingress: CompatIngress, runtime: RuntimeAdapter, named: string | null, id: string) => Promise<Response>;

/** Cartesia's endpoints by method and path, the voice id captured where there is one. */
const ENDPOINTS: Array<{ method: string; path: RegExp; handle: Handler }> = [
  { method: 'GET', path: /^\/tts\/websocket$/, handle: (c, ingress, runtime, named) => connect(c, ingress, runtime, named) },
  { method: 'POST', path: /^\/tts\/bytes$/, handle: (c, ingress, _r, named) => bytes(c, ingress, named) },
  { method: 'POST', path: /^\/tts\/sse$/, handle: (c, ingress, _r, named) => sse(c, ingress, named) },
  { method: 'POST', path: /^\/access-token$/, handle: (c, ingress, _r, named) => accessToken(c, ingress, named) },
  { method: 'GET', path: /^\/voices\/?$/, handle: (c, ingress, _r, named) => listVoices(c, ingress, named) },
  { method: 'GET', path: /^\/voices\/([^/]+)$/, handle: (c, ingress, _r, named, id) => getVoice(c, ingress, named, id) },
];

/** Each endpoint at the root (the stream from `?stream=` or the credential) and under `/cartesia/{stream}`. */
export function cartesiaCompatRoutes(ingress: CompatIngress, runtime: RuntimeAdapter): Hono<Env> {
  const app = new Hono<Env>();
  for (const endpoint of ENDPOINTS) {
    app.on(endpoint.method, ['/tts/*', '/access-token', '/voices', '/voices/*'], async (c, next) => {
      const match = endpoint.path.exec(c.req.path);
      if (!match) return next();
      return answer(c, ingress, () => endpoint.handle(c, ingress, runtime, c.req.query('stream') ?? null, decodeURIComponent(match[1] ?? '')));
    });
  }
  app.all(`${PATH_PREFIX}*`, (c) => answer(c, ingress, () => prefixed(c, ingress, runtime)));
  return app;
}

/** Runs a handler; whatever it throws is answered in Cartesia's error shape, with the request's id. */
async function answer(c: Context<Env>, ingress: CompatIngress, handle: () => Promise<Response>): Promise<Response> {
  try {
    return await handle();
  } catch (error) {
    return cartesiaErrorResponse(c, error, ingress.logger);
  }
}

/** `/cartesia/{stream}/…`: the endpoint after the stream name. */
async function prefixed(c: Context<Env>, ingress: CompatIngress, runtime: RuntimeAdapter): Promise<Response> {
  const rest = c.req.path.slice(PATH_PREFIX.length);
  for (const endpoint of ENDPOINTS) {
    const match = new RegExp(`^(.+?)${endpoint.path.source.slice(1)}`).exec(rest);
    if (!match || c.req.method !== endpoint.method) continue;
    let name: string;
    try {
      name = decodeURIComponent(match[1]!);
    } catch {
      throw new RelayError('invalid_stream_name');
    }
    return endpoint.handle(c, ingress, runtime, name, decodeURIComponent(match[2] ?? ''));
  }
  throw new RelayError('not_found', `No route for ${c.req.method} ${c.req.path}; the Cartesia endpoints are under ${PATH_PREFIX}{stream}/ (tts/websocket, tts/bytes, tts/sse, voices, access-token).`);
}

async function connect(c: Context<Env>, ingress: CompatIngress, runtime: RuntimeAdapter, named: string | null): Promise<Response> {
  const { principal, stream } = await compatPrincipal(c, ingress, named);
  authorize(principal, 'speak', stream);
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new RelayError('bad_request', 'This route is a WebSocket: connect with a WebSocket client (Upgrade: websocket).');
  }
  await ingress.directory.open(stream);
  const watch = (onRevoked: () => void) => watchRevocation(ingress.auth, principal, onRevoked);
  return upgradeTextSession(c, runtime, (ws) => new CompatSession(ingress, runtime, ws, stream), 'Cartesia clients send JSON text frames.', watch);
}
