/**
 * Cartesia-compatible ingress (`GET /tts/websocket`, and `GET /cartesia/{stream}/tts/websocket` so a base URL
 * can name the stream): an application written for Cartesia's TTS WebSocket, pointed at the relay with a relay
 * key or token in place of its API key, works unmodified. Each Cartesia context becomes an utterance on the
 * stream; its audio goes out to the stream's listeners and back to the client as Cartesia `chunk`s.
 *
 * The client's audio is taken from the broker as listeners get it (released a bounded lead ahead of real time)
 * and converted to its `output_format` the way a listener's is, so both get the same bytes.
 *
 * Flow control: none by pausing, since one socket multiplexes contexts and a paused socket would stall the
 * context ahead in the queue; instead a context past RELAY_MAX_UTTERANCE_CHARS, or opened while the stream's
 * queue is full, gets an `error` frame.
 */
import { type Context, Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import { type AudioFormat, bytesPerSecond } from '../../shared/audio-format.ts';
import { encodeBase64 } from '../../shared/base64.ts';
import {
  CARTESIA_DONE,
  CARTESIA_PARTIAL,
  type CartesiaCancelRequest,
  type CartesiaGenerationRequest,
  type CartesiaServerMessage,
  cartesiaVoiceId,
  parseCartesiaClientMessage,
} from '../../shared/cartesia-messages.ts';
import { RelayError, toRelayError } from '../../shared/errors.ts';
import { isValidStreamName } from '../../shared/protocol.ts';
import { createTranscoder, type Transcoder } from '../../shared/transcoder.ts';
import { type Env, type RuntimeAdapter, SOCKET_STATE } from '../runtime/contract.ts';
import { authenticate, authorize, type Credential, credentialOf, type Principal } from '../security/auth.ts';
import type { BrokerEvent } from '../broker/broker.ts';
import type { IngressContext } from './context.ts';
import type { UtteranceHandle } from '../core/stream-directory.ts';
import { upgradeTextSession } from './text-session.ts';

/** The stream a connection speaks on when neither the URL nor a single-stream token names one. */
export const DEFAULT_COMPAT_STREAM = 'default';

const PATH_PREFIX = '/cartesia/';
const PATH_SUFFIX = '/tts/websocket';

interface CompatContext {
  readonly id: string;
  readonly format: AudioFormat;
  readonly timestamps: boolean;
  readonly phonemeTimestamps: boolean;
  readonly voice?: string;
  readonly model?: string;
  readonly language?: string;
  readonly generation?: Record<string, unknown>;
  /** Clock reading of the request that opened it; then of the last chunk sent (for `step_time`). */
  lastSentAt: number;
  utterance: UtteranceHandle | null;
  transcoder: Transcoder | null;
  flushesDone: number;
  inputEnded: boolean;
  cancelledByClient: boolean;
}

export function cartesiaCompatRoutes(ingress: IngressContext, runtime: RuntimeAdapter): Hono<Env> {
  const app = new Hono<Env>();
  app.get(PATH_SUFFIX, (c) => connect(c, ingress, runtime, c.req.query('stream') ?? null));
  app.get(`${PATH_PREFIX}*`, (c) => {
    const path = c.req.path;
    if (!path.endsWith(PATH_SUFFIX)) throw new RelayError('not_found', `No route for GET ${path}; the Cartesia endpoint is ${PATH_PREFIX}{stream}${PATH_SUFFIX}.`);
    let name: string;
    try {
      name = decodeURIComponent(path.slice(PATH_PREFIX.length, -PATH_SUFFIX.length));
    } catch {
      throw new RelayError('invalid_stream_name');
    }
    return connect(c, ingress, runtime, name);
  });
  return app;
}

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

/** The one stream a token covers, when it names exactly one (no wildcard). */
function claimedStream(principal: Principal): string | null {
  if (principal.kind !== 'token' || principal.streams.length !== 1) return null;
  const [scope] = principal.streams;
  return scope !== undefined && !scope.endsWith('*') ? scope : null;
}

async function connect(c: Context<Env>, ingress: IngressContext, runtime: RuntimeAdapter, named: string | null): Promise<Response> {
  const credential = compatCredentialOf(c.req.raw);
  if (!credential) throw new RelayError('unauthorized', 'Send the relay key or token as Authorization: Bearer, X-API-Key, ?api_key= or ?access_token=.');
  const principal = await authenticate(credential, ingress.auth);
  const name = named ?? claimedStream(principal) ?? DEFAULT_COMPAT_STREAM;
  if (!isValidStreamName(name)) throw new RelayError('invalid_stream_name');
  authorize(principal, 'speak', name);
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new RelayError('bad_request', 'This route is a WebSocket: connect with a WebSocket client (Upgrade: websocket).');
  }
  await ingress.directory.open(name);
  return upgradeTextSession(c, runtime, (ws) => new CompatSession(ingress, runtime, ws, name), 'Cartesia clients send JSON text frames.');
}

class CompatSession {
  private readonly contexts = new Map<string, CompatContext>();
  private readonly byUtterance = new Map<number, CompatContext>();
  private readonly unsubscribe: () => void;
  private closed = false;
  /** Messages are handled one after another: opening a context's utterance may wait on the stream's queue. */
  private work: Promise<void> = Promise.resolve();

  constructor(
    private readonly ingress: IngressContext,
    private readonly runtime: RuntimeAdapter,
    private readonly ws: WSContext<any>,
    private readonly stream: string,
  ) {
    this.unsubscribe = ingress.events.subscribe(stream, (event) => this.observe(event));
  }

  receive(data: string): void {
    if (this.closed) return;
    const parsed = parseCartesiaClientMessage(data);
    if (!parsed.ok) {
      this.sendError(new RelayError('invalid_message', parsed.reason), parsed.contextId);
      return;
    }
    const { message } = parsed;
    this.work = this.work
      .then(() => (message.kind === 'cancel' ? this.cancel(message.request) : this.generate(message.request)))
      .catch((error: unknown) => this.ingress.logger.error('cartesia client message failed', { stream: this.stream, error }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    // As when a publisher goes away: what was sent is spoken, contexts left open end there.
    for (const context of this.contexts.values()) if (!context.inputEnded) context.utterance?.end();
    this.contexts.clear();
    this.byUtterance.clear();
  }

  private async generate(request: CartesiaGenerationRequest): Promise<void> {
    if (this.closed) return;
    const id = request.context_id ?? crypto.randomUUID();
    let context = this.contexts.get(id);
    try {
      if (!context) {
        context = this.openContext(id, request);
        this.contexts.set(id, context);
      } else if (context.inputEnded) {
        throw new RelayError('bad_request', `Context ${id} already received continue: false; use a new context_id.`);
      }
      if (request.transcript !== '') (await this.utteranceOf(context)).write(request.transcript);
      if (request.flush) {
        if (context.utterance) context.utterance.flush();
        else this.send({ type: 'flush_done', context_id: id, flush_id: ++context.flushesDone, flush_done: true, done: false, status_code: CARTESIA_PARTIAL });
      }
      if (request.continue !== true) {
        context.inputEnded = true;
        if (!context.utterance) throw new RelayError('empty_text', 'The context ended without any transcript.');
        context.utterance.end();
      }
    } catch (error) {
      this.failContext(id, toRelayError(error, 'bad_request'));
    }
  }

  private openContext(id: string, request: CartesiaGenerationRequest): CompatContext {
    const voice = cartesiaVoiceId(request.voice);
    const language = request.language ?? request.locale ?? undefined;
    const format = request.output_format
      ? { encoding: request.output_format.encoding, sampleRate: request.output_format.sample_rate }
      : this.ingress.sourceFormat;
    return {
      id,
      format: format as AudioFormat,
      timestamps: request.add_timestamps === true,
      phonemeTimestamps: request.add_phoneme_timestamps === true,
      ...(voice ? { voice } : {}),
      ...(request.model_id ? { model: request.model_id } : {}),
      ...(language ? { language } : {}),
      ...(request.generation_config ? { generation: request.generation_config } : {}),
      lastSentAt: this.ingress.now(),
      utterance: null,
      transcoder: null,
      flushesDone: 0,
      inputEnded: false,
      cancelledByClient: false,
    };
  }

  /** The context's utterance, queued on the stream with its first words. */
  private async utteranceOf(context: CompatContext): Promise<UtteranceHandle> {
    if (context.utterance) return context.utterance;
    const utterance = await this.ingress.directory.enqueue(this.stream, {
      receivedAt: context.lastSentAt,
      // The relay cuts text into sentences, as Cartesia's own buffering would (max_buffer_delay_ms is not needed).
      buffering: 'relay',
      ...(context.voice ? { voice: context.voice } : {}),
      ...(context.language ? { language: context.language } : {}),
      ...(context.model ? { model: context.model } : {}),
      ...(context.phonemeTimestamps ? { phonemeTimestamps: true } : {}),
      ...(context.generation ? { generation: context.generation } : {}),
    });
    context.utterance = utterance;
    // Made here, not at utterance_start: an idle stream publishes the start inside enqueue(), before this line.
    context.transcoder = createTranscoder(this.ingress.sourceFormat, context.format);
    this.byUtterance.set(utterance.number, context);
    return utterance;
  }

  private async cancel(request: CartesiaCancelRequest): Promise<void> {
    const context = this.contexts.get(request.context_id);
    if (!context) return;
    context.cancelledByClient = true;
    context.inputEnded = true;
    this.forget(context);
    if (context.utterance) await this.ingress.directory.cancelUtterance(this.stream, context.utterance.id);
  }

  private observe(event: BrokerEvent): void {
    const context = this.byUtterance.get(event.utterance);
    if (!context) return;
    switch (event.type) {
      case 'audio':
        this.sendAudio(context, context.transcoder?.push(event.data));
        return;
      case 'timestamps':
        if (!context.timestamps || event.words.length === 0) return;
        this.send({
          type: 'timestamps',
          context_id: context.id,
          done: false,
          status_code: CARTESIA_PARTIAL,
          flush_id: context.flushesDone + 1,
          word_timestamps: { words: event.words.map((w) => w.word), start: event.words.map((w) => w.start), end: event.words.map((w) => w.end) },
        });
        return;
      case 'phoneme_timestamps':
        if (!context.phonemeTimestamps || event.phonemes.length === 0) return;
        this.send({
          type: 'phoneme_timestamps',
          context_id: context.id,
          done: false,
          status_code: CARTESIA_PARTIAL,
          flush_id: context.flushesDone + 1,
          phoneme_timestamps: { phonemes: event.phonemes.map((p) => p.phoneme), start: event.phonemes.map((p) => p.start), end: event.phonemes.map((p) => p.end) },
        });
        return;
      case 'flush_done':
        this.send({ type: 'flush_done', context_id: context.id, flush_id: ++context.flushesDone, flush_done: true, done: false, status_code: CARTESIA_PARTIAL });
        return;
      case 'utterance_end':
        this.forget(context);
        if (event.reason === 'error') {
          this.sendError(new RelayError(event.error?.code ?? 'upstream_error', event.error?.message), context.id);
          return;
        }
        if (event.reason === 'done') this.sendAudio(context, context.transcoder?.flush());
        // A cancel the client asked for ends the context silently, as Cartesia does; one from elsewhere
        // (barge-in, an HTTP cancel) ends it with `done` so the client's receive() loop finishes.
        if (!context.cancelledByClient) this.send({ type: 'done', context_id: context.id, done: true, status_code: CARTESIA_DONE });
        return;
      default:
        return;
    }
  }

  private sendAudio(context: CompatContext, data: Uint8Array | undefined): void {
    if (!data || data.byteLength === 0) return;
    // A client that does not read its audio would make the relay hold it without bound.
    if (this.runtime.bufferedAmount(this.ws) > this.ingress.limits.listenerMaxBufferedSeconds * bytesPerSecond(context.format)) {
      const error = new RelayError('slow_listener', 'The client did not read its audio as fast as it plays.');
      this.ws.close(error.closeCode, error.code);
      return;
    }
    const now = this.ingress.now();
    this.send({
      type: 'chunk',
      context_id: context.id,
      data: encodeBase64(data),
      done: false,
      status_code: CARTESIA_PARTIAL,
      step_time: Math.round((now - context.lastSentAt) * 10) / 10,
      flush_id: context.flushesDone + 1,
    });
    context.lastSentAt = now;
  }

  /** Ends a context with an error frame; its utterance stops. */
  private failContext(id: string, error: RelayError): void {
    const context = this.contexts.get(id);
    if (context) {
      context.inputEnded = true;
      this.forget(context);
      if (context.utterance && !context.utterance.ended) context.utterance.fail(error);
    }
    this.sendError(error, id);
  }

  private forget(context: CompatContext): void {
    this.contexts.delete(context.id);
    if (context.utterance) this.byUtterance.delete(context.utterance.number);
  }

  private sendError(error: RelayError, contextId?: string): void {
    this.send({
      type: 'error',
      ...(contextId !== undefined ? { context_id: contextId } : {}),
      status_code: error.status,
      title: error.code,
      message: error.message,
      error_code: error.code,
      error: error.message,
      done: true,
    });
  }

  private send(message: CartesiaServerMessage): void {
    if (this.ws.readyState !== SOCKET_STATE.open) return;
    try {
      this.ws.send(JSON.stringify(message));
    } catch (error) {
      this.ingress.logger.warn('cartesia client send failed', { stream: this.stream, error });
    }
  }
}

