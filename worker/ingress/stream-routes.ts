/** The stream routes: speak, cancel, listen and status under /v1/streams/{stream}. */
import { type Context, Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import { type SpeakAccepted, type SpeakCompleted, type SpeakQuery, speakQuerySchema, type StreamStatus } from '../../shared/api.ts';
import { type AudioFormat, isEncoding, isSampleRate } from '../../shared/audio-format.ts';
import { errorInfo, RelayError, toRelayError } from '../../shared/errors.ts';
import { isValidStreamName, STREAM_ACTIONS, type StreamAction } from '../../shared/protocol.ts';
import type { Env, RuntimeAdapter } from '../app.ts';
import { authorize } from '../security/auth.ts';
import type { Listener, ListenerSocket } from '../listeners/fan-out.ts';
import { readSpeakBody } from './speak-body.ts';
import { checkVoice } from './voice-check.ts';
import { publishRoute } from './publish.ts';
import type { Relay } from '../core/relay.ts';
import type { UtteranceHandle } from '../core/stream-directory.ts';
import type { UtteranceOptions } from '../core/utterance.ts';

// Longest NDJSON/SSE line accepted while streaming; longer lines fail with payload_too_large.
const MAX_LINE_CHARS = 64 * 1024;

export function streamRoutes(relay: Relay, runtime: RuntimeAdapter): Hono<Env> {
  const app = new Hono<Env>();
  const { limits } = relay.config;
  const publish = publishRoute(relay, runtime);

  const speak = async (c: Context<Env>, name: string) => {
    const receivedAt = relay.now();
    authorize(c.get('principal'), 'speak', name);
    runtime.keepRequestAlive?.(c.req.raw);
    const query = speakQuery(c.req.query());
    // Barge-in silences the stream at once, before the new text arrives; its enqueue clears the queue again.
    const interrupt = query.interrupt ?? false;
    if (interrupt) {
      authorize(c.get('principal'), 'cancel', name);
      await relay.directory.cancel(name, true);
    }
    const body = await readSpeakBody(c.req.header('content-type'), c.req.raw.body, { maxBytes: limits.maxSpeakBytes, maxLineChars: MAX_LINE_CHARS, idleMs: limits.uploadIdleMs });
    const voice = await checkVoice(relay.provider, query.voice ?? body.voice);
    const language = query.language ?? body.language;
    const generation = generationOf(query);
    const options: UtteranceOptions = {
      receivedAt,
      buffering: query.buffering ?? 'relay',
      ...(voice ? { voice } : {}),
      ...(language ? { language } : {}),
      ...(query.model ? { model: query.model } : {}),
      ...(query.phoneme_timestamps ? { phonemeTimestamps: true } : {}),
      ...(generation ? { generation } : {}),
    };

    let utterance: UtteranceHandle | null = null;
    try {
      for await (const input of body.inputs) {
        if (input.type === 'flush') {
          utterance?.flush();
          continue;
        }
        // The utterance joins the queue with its first words, so speech starts while the upload goes on.
        if (!utterance) {
          if (input.text.trim() === '') continue;
          utterance = await relay.directory.enqueue(name, options, { interrupt });
        }
        utterance.write(input.text);
        if (utterance.ended) break;
      }
    } catch (error) {
      const relayError = toRelayError(error, 'bad_request');
      utterance?.fail(relayError);
      throw relayError;
    }
    if (!utterance) throw new RelayError('empty_text');
    utterance.end();

    const accepted: SpeakAccepted = { utterance_id: utterance.id, utterance: utterance.number, stream: name };
    if (!query.wait) return c.json(accepted, 202);
    const result = await utterance.result;
    const completed: SpeakCompleted = {
      ...accepted,
      reason: result.reason,
      characters: result.characters,
      audio_seconds: round(result.audioSeconds, 3),
      first_audio_ms: result.firstAudioMs === null ? null : round(result.firstAudioMs, 1),
      total_ms: round(result.totalMs, 1),
      ...(result.error ? { error: errorInfo(result.error) } : {}),
    };
    return c.json(completed, result.error ? result.error.status : 200);
  };
  const cancel = async (c: Context<Env>, name: string) => {
    authorize(c.get('principal'), 'cancel', name);
    const cancelled = await relay.directory.cancel(name, c.req.query('all') === 'true');
    return c.json({ stream: name, cancelled });
  };

  const listen = async (c: Context<Env>, name: string) => {
    authorize(c.get('principal'), 'listen', name);
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new RelayError('bad_request', 'This route is a WebSocket: connect with a WebSocket client (Upgrade: websocket).');
    }
    const format = listenFormat(c.req.query('encoding'), c.req.query('sample_rate'), relay.provider.preferredFormat);
    const from = c.req.query('from');
    if (from !== undefined && from !== 'utterance' && from !== 'live') {
      throw new RelayError('bad_request', 'from is `live` (the default) or `utterance` (start with the current utterance).');
    }
    if (relay.fanout.count(name) >= limits.maxListenersPerStream) throw new RelayError('too_many_listeners');
    relay.stream(name);
    let listener: Listener | null = null;
    const release = () => {
      if (listener) relay.fanout.remove(listener);
      listener = null;
    };
    const response = await runtime.upgradeWebSocket(c, {
      onOpen(_event, ws) {
        listener = relay.fanout.add(name, format, listenerSocket(ws, runtime), from === 'utterance' ? { from } : {});
      },
      onMessage(_event, ws) {
        // Listeners only listen; anything they send is a protocol error.
        const error = new RelayError('invalid_message', 'Listeners do not send messages.');
        ws.close(error.closeCode, error.code);
      },
      onClose: release,
      onError: release,
    });
    return response ?? new Response(null);
  };

  const status = async (c: Context<Env>, name: string) => {
    authorize(c.get('principal'), 'status', name);
    const queue = await relay.directory.status(name);
    if (!queue) throw new RelayError('stream_not_found', `No stream named ${name} is active.`);
    const body: StreamStatus = {
      stream: name,
      listeners: relay.fanout.count(name),
      formats: relay.fanout.formats(name).map(({ format, listeners }) => ({ encoding: format.encoding, sample_rate: format.sampleRate, listeners })),
      ...queue,
      provider: relay.provider.name,
    };
    return c.json(body);
  };

  // Stream names contain slashes, so the action is the path's last segment (names may not end in one).
  app.all('/*', (c) => {
    const { name, action } = parseStreamPath(c.req.path);
    const method = c.req.method;
    switch (action) {
      case 'speak':
        // curl -T uploads with PUT; everything else POSTs.
        if (method === 'POST' || method === 'PUT') return speak(c, name);
        break;
      case 'cancel':
        if (method === 'POST') return cancel(c, name);
        break;
      case 'listen':
        if (method === 'GET') return listen(c, name);
        break;
      case 'publish':
        if (method === 'GET') return publish(c, name);
        break;
      case 'status':
        if (method === 'GET' || method === 'HEAD') return status(c, name);
        break;
      default:
        throw new RelayError('not_found', `No route for ${method} ${c.req.path}.`);
    }
    throw new RelayError('method_not_allowed', `${action} does not take ${method}.`);
  });

  return app;
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
  if (!isValidStreamName(name)) throw new RelayError('invalid_stream_name');
  return { name, action: isAction ? (last as StreamAction) : 'status' };
}

function listenFormat(encoding: string | undefined, sampleRate: string | undefined, fallback: AudioFormat): AudioFormat {
  if (encoding !== undefined && !isEncoding(encoding)) throw new RelayError('unsupported_encoding');
  const rate = sampleRate === undefined ? undefined : Number(sampleRate);
  if (rate !== undefined && !isSampleRate(rate)) throw new RelayError('unsupported_sample_rate');
  return { encoding: encoding ?? fallback.encoding, sampleRate: rate ?? fallback.sampleRate };
}

function listenerSocket(ws: WSContext<any>, runtime: RuntimeAdapter): ListenerSocket {
  return {
    send: (data) => ws.send(data as Uint8Array<ArrayBuffer> | string),
    close: (code, reason) => ws.close(code, reason),
    bufferedAmount: () => runtime.bufferedAmount(ws),
    isOpen: () => ws.readyState === 1,
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function speakQuery(raw: Record<string, string>): SpeakQuery {
  const parsed = speakQuerySchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new RelayError('bad_request', `Query parameter ${String(issue?.path[0] ?? '')} is invalid: ${issue?.message ?? 'invalid'}.`);
}

function generationOf(query: SpeakQuery): Record<string, unknown> | undefined {
  const { speed, volume, emotion } = query;
  if (speed === undefined && volume === undefined && emotion === undefined) return undefined;
  return { ...(speed !== undefined ? { speed } : {}), ...(volume !== undefined ? { volume } : {}), ...(emotion ? { emotion } : {}) };
}
