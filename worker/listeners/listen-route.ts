/** GET /v1/streams/{stream}/listen: a WebSocket that joins this instance's listeners of the stream. */
import type { Context } from 'hono';
import { type AudioFormat, formatKey, isEncoding, isSampleRate } from '../../shared/audio-format.ts';
import { RelayError } from '../../shared/errors.ts';
import type { IngressContext } from '../ingress/context.ts';
import type { Env, RuntimeAdapter } from '../runtime/contract.ts';
import { authorize } from '../security/auth.ts';
import { ListenerConnection, ListenerKind } from './listener-connection.ts';

export function listenRoute({ directory, listeners, played, limits, sourceFormat, clock, now, auth }: IngressContext, runtime: RuntimeAdapter) {
  const shared = { listeners, played, auth, runtime, clock, now };
  // One kind per encoding, rate and timing (a few dozen at most), shared by every listener that asks for it.
  const kinds = new Map<string, ListenerKind>();
  return async (c: Context<Env>, name: string): Promise<Response> => {
    authorize(c.get('principal'), 'listen', name);
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new RelayError('bad_request', 'This route is a WebSocket: connect with a WebSocket client (Upgrade: websocket).');
    }
    const requested = listenFormat(c.req.query('encoding'), c.req.query('sample_rate'), sourceFormat);
    const from = c.req.query('from');
    if (from !== undefined && from !== 'utterance' && from !== 'live') {
      throw new RelayError('bad_request', 'from is `live` (the default) or `utterance` (start with the current utterance).');
    }
    const timing = c.req.query('timing');
    if (timing !== undefined && timing !== 'true' && timing !== 'false') {
      throw new RelayError('bad_request', 'timing is `true` (send presentation times) or `false` (the default).');
    }
    if (listeners.count(name) >= limits.maxListenersPerStream) throw new RelayError('too_many_listeners');
    await directory.open(name);
    const kindKey = `${formatKey(requested)}${timing === 'true' ? ' timing' : ''}`;
    let kind = kinds.get(kindKey);
    if (!kind) kinds.set(kindKey, (kind = new ListenerKind(shared, requested, timing === 'true')));
    const connection = new ListenerConnection({ stream: name, kind, from: from ?? 'live', principal: c.get('principal') });
    const response = await runtime.upgradeWebSocket(c, connection);
    return response ?? new Response(null);
  };
}

function listenFormat(encoding: string | undefined, sampleRate: string | undefined, fallback: AudioFormat): AudioFormat {
  if (encoding !== undefined && !isEncoding(encoding)) throw new RelayError('unsupported_encoding');
  const rate = sampleRate === undefined ? undefined : Number(sampleRate);
  if (rate !== undefined && !isSampleRate(rate)) throw new RelayError('unsupported_sample_rate');
  return { encoding: encoding ?? fallback.encoding, sampleRate: rate ?? fallback.sampleRate };
}
