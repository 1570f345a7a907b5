/** The stream routes under /v1/streams/{stream}: a table from action and method to one small handler each. */
import { type Context, Hono } from 'hono';
import type { StreamStatus } from '../../shared/api.ts';
import { RelayError } from '../../shared/errors.ts';
import { describeInvalidStreamName, isValidStreamName, STREAM_ACTIONS, type StreamAction } from '../../shared/protocol.ts';
import type { Env, RuntimeAdapter } from '../runtime/contract.ts';
import { authorize } from '../security/auth.ts';
import { listenRoute } from '../listeners/listen-route.ts';
import type { IngressContext } from './context.ts';
import { publishRoute } from './publish.ts';
import { speakRoute } from './speak-route.ts';

/** Handles one action on the stream named in the path. */
export type StreamHandler = (c: Context<Env>, name: string) => Promise<Response>;

type RouteTable = Record<StreamAction | 'status', Partial<Record<string, StreamHandler>>>;

export function streamRoutes(ingress: IngressContext, runtime: RuntimeAdapter): Hono<Env> {
  const speak = speakRoute(ingress, runtime);
  const status = statusRoute(ingress);
  const routes: RouteTable = {
    // curl -T uploads with PUT; everything else POSTs.
    speak: { POST: speak, PUT: speak },
    cancel: { POST: cancelRoute(ingress) },
    listen: { GET: listenRoute(ingress, runtime) },
    publish: { GET: publishRoute(ingress, runtime) },
    status: { GET: status, HEAD: status },
  };
  const app = new Hono<Env>();
  // Stream names contain slashes, so the action is the path's last segment (names may not end in one).
  app.all('/*', (c) => {
    const { name, action } = parseStreamPath(c.req.path);
    const handler = routes[action][c.req.method];
    if (!handler) throw new RelayError('method_not_allowed', `${action} does not take ${c.req.method}.`);
    return handler(c, name);
  });
  return app;
}

function cancelRoute({ directory }: IngressContext): StreamHandler {
  return async (c, name) => {
    authorize(c.get('principal'), 'cancel', name);
    const cancelled = await directory.cancel(name, c.req.query('all') === 'true');
    return c.json({ stream: name, cancelled });
  };
}

function statusRoute({ directory, listeners, played, provider }: IngressContext): StreamHandler {
  return async (c, name) => {
    authorize(c.get('principal'), 'status', name);
    const queue = await directory.status(name);
    if (!queue) throw new RelayError('stream_not_found', `No stream named ${name} is active.`);
    const body: StreamStatus = {
      stream: name,
      listeners: listeners.count(name),
      formats: listeners.formats(name).map(({ format, listeners }) => ({ encoding: format.encoding, sample_rate: format.sampleRate, listeners })),
      ...queue,
      provider: provider.name,
      positions: played.positions(name),
    };
    return c.json(body);
  };
}

function parseStreamPath(path: string): { name: string; action: StreamAction | 'status' } {
  let rest = path.slice(path.indexOf('/v1/streams/') + '/v1/streams/'.length);
  try {
    rest = decodeURIComponent(rest);
  } catch {
    throw new RelayError('invalid_stream_name');
  }
  const slash = rest.lastIndexOf('/');
  const last = rest.slice(slash + 1);
  const isAction = slash > 0 && (STREAM_ACTIONS as readonly string[]).includes(last);
  const name = isAction ? rest.slice(0, slash) : rest;
  if (!isValidStreamName(name)) throw new RelayError('invalid_stream_name', describeInvalidStreamName(name));
  return { name, action: isAction ? (last as StreamAction) : 'status' };
}
