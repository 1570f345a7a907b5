/**
 * A stand-in for Cartesia's TTS WebSocket (`wss://…/tts/websocket`) that speaks its documented protocol:
 * TLS with a test certificate, its auth forms and `cartesia-version`, request validation, continuations,
 * flushes, cancels, timestamps, and version-2026 error frames. The audio is real speech from the embedded
 * espeak-ng engine. Hooks inject faults per test. It does not depend on the relay; the benchmark uses it too.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type WebSocket, WebSocketServer } from 'ws';
import { type AudioFormat, type Encoding, ENCODINGS, SAMPLE_RATES, bytesPerSample, type SampleRate } from '../../shared/audio-format.ts';
import { createTranscoder } from '../../shared/transcoder.ts';
import { ESPEAK_SAMPLE_RATE, loadEspeakEngine } from '../../worker/providers/espeak/engine.ts';

export const EMULATOR_CERT_FILE = fileURLToPath(new URL('./certs/cert.pem', import.meta.url));
const EMULATOR_KEY_FILE = fileURLToPath(new URL('./certs/key.pem', import.meta.url));
export const EMULATOR_API_KEY = 'sk_car_emulator_0123456789abcdef';

// Version from which Cartesia answers errors as structured objects (title, message, error_code).
const STRUCTURED_ERRORS_VERSION = '2026-03-01';
const MODEL_PATTERN = /^sonic(-[a-z0-9.-]+)?$/;
// The languages Sonic 3 accepts (ISO 639-1).
const LANGUAGES = new Set(
  'en fr de es pt zh ja hi it ko nl pl ru sv tr ar bg bn cs da el fi gu he hr hu id ka kn ml mr ms ne no pa ro sk ta te th tl uk vi'.split(' '),
);
// espeak-ng voices for the emulated languages; anything else speaks English.
const ESPEAK_VOICES: Record<string, string> = { en: 'en-us', fr: 'fr', de: 'de', es: 'es', it: 'it', pt: 'pt', nl: 'nl', pl: 'pl', sv: 'sv' };
// Fields every request on a context must repeat unchanged (Cartesia: all but transcript, continue, flush, duration).
const FIXED_FIELDS = [
  'model_id',
  'voice',
  'output_format',
  'language',
  'add_timestamps',
  'add_phoneme_timestamps',
  'use_normalized_timestamps',
  'max_buffer_delay_ms',
  'pronunciation_dict_id',
] as const;
const SENTENCE_BOUNDARY = /[.!?…]["')\]]*(\s+|$)/g;

export interface EmulatorFaults {
  /** Refuse the next `times` upgrades with `status` (and a Retry-After header when given). */
  rejectUpgrades?: { status: number; times: number; retryAfterSeconds?: number };
  /** The next context: cut its socket (no close frame) after this many chunks. */
  dropAfterChunks?: number;
  /** The next context: cut its socket (no close frame) right after its first `flush_done`. */
  dropAfterFlush?: boolean;
  /** The next `times` contexts: each cuts its socket after `afterChunks` chunks. */
  dropContexts?: { afterChunks: number; times: number };
  /** The next context: its socket stops sending anything after this many chunks, and keeps reading. */
  stallAfterChunks?: number;
  /** The next context: an error frame after this many chunks, and nothing more for it. */
  errorAfterChunks?: { chunks: number; status_code: number; title: string; message: string; error_code: string | null };
  /** The next context: garbage frames (not JSON, unknown types, malformed chunks, binary) before each of its first n chunks. */
  garbageBeforeChunks?: number;
  /** Every chunk: this much extra delay before it (slow generation). */
  chunkDelayMs?: number;
}

export interface EmulatorOptions {
  port?: number;
  host?: string;
  /** Keys accepted as `Authorization: Bearer`, `X-API-Key` or `?api_key=`. */
  apiKeys?: string[];
  /** Tokens accepted as `?access_token=` (or Bearer). */
  accessTokens?: string[];
  /** Model latency: delay before a generation's first chunk. */
  firstChunkDelayMs?: number;
  /** Pause between chunks of one generation. */
  chunkIntervalMs?: number;
  /** Audio duration of one chunk. */
  chunkMs?: number;
  /** Cartesia closes a socket that received nothing for 5 minutes. */
  idleCloseMs?: number;
  /** Chunks already generated that still go out after a cancel (Cartesia cannot recall them). */
  lateChunksAfterCancel?: number;
  faults?: EmulatorFaults;
  /** false: a model without word timestamps (`add_timestamps` accepted, none sent). */
  wordTimestamps?: boolean;
  /** What `GET /voices` lists, in pages of its `limit` (Cartesia's cursor paging). */
  voices?: EmulatedVoice[];
}

export interface EmulatedVoice {
  id: string;
  name: string;
  language: string;
}

/** A few voices in Cartesia's shape; the first two are the ones Cartesia's examples and the relay default to. */
export const EMULATOR_VOICES: EmulatedVoice[] = [
  { id: 'a0e99841-438c-4a64-b679-ae501e7d6091', name: 'Barbershop Man', language: 'en' },
  { id: '6ccbfb76-1fc6-48f7-b71d-91ac6298247b', name: 'Tessa', language: 'en' },
  { id: '65b25c5d-ff07-4687-a04c-da2f43ef6fa9', name: 'Helpful French Lady', language: 'fr' },
  { id: 'b9de4a89-2257-424b-94c2-db18ba68c81a', name: 'German Reporter Man', language: 'de' },
];

export interface UpgradeRecord {
  /** performance.now() when the upgrade arrived. */
  at: number;
  url: string;
  headers: IncomingMessage['headers'];
  status: number;
  auth: 'bearer' | 'x-api-key' | 'api_key' | 'access_token' | null;
  version: string | null;
}

export interface RequestRecord {
  connection: number;
  raw: string;
  json: unknown;
}

export interface EmulatorStats {
  upgrades: UpgradeRecord[];
  /** Sockets accepted. */
  connections: number;
  open: number;
  /** Contexts started. */
  contexts: number;
  requests: RequestRecord[];
  /** Frames sent, by type (chunks included). */
  sent: Record<string, number>;
  errors: Array<Record<string, unknown>>;
  closes: Array<{ connection: number; code: number; reason: string; by: 'client' | 'server' }>;
}

export interface CartesiaEmulator {
  /** `https://127.0.0.1:port`: the base URL for the SDK (which dials `wss://…/tts/websocket` itself). */
  url: string;
  wssUrl: string;
  port: number;
  /** PEM of the test certificate, and its file, to trust it. */
  ca: string;
  caFile: string;
  stats: EmulatorStats;
  faults: EmulatorFaults;
  setFaults(faults: EmulatorFaults): void;
  /** Cuts every open socket without a close frame. */
  dropConnections(): void;
  /** Changes how long a socket may stay idle before the emulator closes it. */
  setIdleClose(ms: number): void;
  /** Client requests (parsed JSON objects) in arrival order. */
  requestsOf(contextId?: string): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

type Item = { kind: 'speak'; text: string } | { kind: 'flush' } | { kind: 'done' };

interface ContextFaults {
  dropAfterChunks?: number;
  dropAfterFlush?: boolean;
  stallAfterChunks?: number;
  errorAfterChunks?: EmulatorFaults['errorAfterChunks'];
  garbageBeforeChunks?: number;
}

class EmulatedContext {
  fixed: string;
  format: AudioFormat;
  words: boolean;
  phonemes: boolean;
  bufferDelayMs: number;
  voice: string;
  pending = '';
  bufferTimer: ReturnType<typeof setTimeout> | null = null;
  work: Promise<void> = Promise.resolve();
  flushId = 1;
  /** Seconds of audio sent so far: timestamps are relative to the context's first sample. */
  seconds = 0;
  chunks = 0;
  inputClosed = false;
  finished = false;
  cancelled = false;
  lateChunks = 0;

  constructor(
    readonly id: string,
    request: Record<string, unknown>,
    readonly faults: ContextFaults,
  ) {
    this.fixed = fixedFields(request);
    const format = request.output_format as { encoding: Encoding; sample_rate: SampleRate };
    this.format = { encoding: format.encoding, sampleRate: format.sample_rate };
    this.words = request.add_timestamps === true;
    this.phonemes = request.add_phoneme_timestamps === true;
    // Documented default: 3000 ms of buffering when the field is absent.
    this.bufferDelayMs = typeof request.max_buffer_delay_ms === 'number' ? request.max_buffer_delay_ms : 3000;
    this.voice = ESPEAK_VOICES[typeof request.language === 'string' ? request.language : 'en'] ?? 'en-us';
  }
}

class Connection {
  readonly contexts = new Map<string, EmulatedContext>();
  /** Ids of finished contexts; a request on one is refused as on a closed context. */
  readonly closedContexts = new Set<string>();
  stalled = false;
  idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly id: number,
    readonly socket: WebSocket,
    readonly version: string,
  ) {}
}

/** Starts the emulator on `port` (0: a free one). */
export async function startCartesiaEmulator(options: EmulatorOptions = {}): Promise<CartesiaEmulator> {
  const cert = readFileSync(EMULATOR_CERT_FILE, 'utf8');
  const key = readFileSync(EMULATOR_KEY_FILE, 'utf8');
  const apiKeys = new Set(options.apiKeys ?? [EMULATOR_API_KEY]);
  const tokens = new Set(options.accessTokens ?? []);
  const firstChunkDelayMs = options.firstChunkDelayMs ?? 20;
  const chunkIntervalMs = options.chunkIntervalMs ?? 2;
  const chunkMs = options.chunkMs ?? 50;
  let idleCloseMs = options.idleCloseMs ?? 300_000;
  const lateChunksAfterCancel = options.lateChunksAfterCancel ?? 2;
  const engine = await loadEspeakEngine();

  const faults: EmulatorFaults = { ...options.faults };
  const stats: EmulatorStats = { upgrades: [], connections: 0, open: 0, contexts: 0, requests: [], sent: {}, errors: [], closes: [] };
  const connections = new Set<Connection>();
  let connectionIds = 0;
  let requestIds = 0;

  const voices = options.voices ?? EMULATOR_VOICES;
  const server: Server = createServer({ cert, key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (req.method === 'GET' && url.pathname === '/voices') return listVoices(req, url, res);
    res.writeHead(426, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error_code: 'upgrade_required', title: 'Upgrade required', message: 'Connect to /tts/websocket with a WebSocket client.' }));
  });
  const wss = new WebSocketServer({ noServer: true });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const auth = authenticate(req, url);
    const version = (req.headers['cartesia-version'] as string | undefined) ?? url.searchParams.get('cartesia_version');
    const record: UpgradeRecord = { at: performance.now(), url: req.url ?? '', headers: req.headers, status: 101, auth: auth.form, version };
    stats.upgrades.push(record);
    const refuse = (status: number, title: string, message: string, headers: Record<string, string> = {}) => {
      record.status = status;
      const body = JSON.stringify({ error_code: null, title, message, request_id: crypto.randomUUID() });
      socket.end(
        `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
          `Connection: close\r\n\r\n${body}`,
      );
    };
    const reject = faults.rejectUpgrades;
    if (reject && reject.times > 0) {
      reject.times -= 1;
      const headers: Record<string, string> = reject.retryAfterSeconds !== undefined ? { 'Retry-After': String(reject.retryAfterSeconds) } : {};
      refuse(reject.status, reject.status === 429 ? 'Too Many Requests' : 'Service Unavailable', 'Injected refusal.', headers);
      return;
    }
    if (url.pathname !== '/tts/websocket') return refuse(404, 'Not Found', `No WebSocket at ${url.pathname}.`);
    if (!auth.ok) return refuse(401, 'Unauthorized', auth.message);
    if (!version) return refuse(400, 'Bad Request', 'The Cartesia-Version header (or cartesia_version query parameter) is required.');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(version)) return refuse(400, 'Bad Request', `Invalid Cartesia-Version ${version}.`);
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, version));
  });

  /** Cartesia's `GET /voices`: `{data, has_more}`, `limit` per page, the next page `starting_after` the last id. */
  function listVoices(req: IncomingMessage, url: URL, res: ServerResponse): void {
    const auth = authenticate(req, url);
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!auth.ok) return answer(401, { error_code: null, title: 'Unauthorized', message: auth.message });
    const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 10) || 10));
    const after = url.searchParams.get('starting_after');
    const start = after ? voices.findIndex((voice) => voice.id === after) + 1 : 0;
    const data = voices.slice(start, start + limit).map((voice) => ({ ...voice, description: '', is_owner: false, access: 'public' }));
    answer(200, { data, has_more: start + limit < voices.length });
  }

  function authenticate(req: IncomingMessage, url: URL): { ok: true; form: UpgradeRecord['auth'] } | { ok: false; form: UpgradeRecord['auth']; message: string } {
    const authorization = req.headers.authorization;
    const candidates: Array<[UpgradeRecord['auth'], string | null | undefined]> = [
      ['bearer', authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined],
      ['x-api-key', req.headers['x-api-key'] as string | undefined],
      ['api_key', url.searchParams.get('api_key')],
      ['access_token', url.searchParams.get('access_token')],
    ];
    const present = candidates.filter(([, value]) => typeof value === 'string' && value !== '');
    if (present.length === 0) return { ok: false, form: null, message: 'No API key: send Authorization: Bearer <key>, X-API-Key, or ?api_key=.' };
    for (const [form, value] of present) {
      if (form === 'access_token' ? tokens.has(value!) : apiKeys.has(value!) || (form === 'bearer' && tokens.has(value!))) return { ok: true, form };
    }
    return { ok: false, form: present[0]![0], message: 'Invalid API key.' };
  }

  function accept(socket: WebSocket, version: string): void {
    const connection = new Connection(++connectionIds, socket, version);
    connections.add(connection);
    stats.connections += 1;
    stats.open += 1;
    resetIdle(connection);
    socket.on('message', (data, isBinary) => {
      resetIdle(connection);
      const raw = isBinary ? '' : data.toString();
      let json: unknown = null;
      try {
        json = isBinary ? null : JSON.parse(raw);
      } catch {
        json = null;
      }
      stats.requests.push({ connection: connection.id, raw, json });
      receive(connection, json);
    });
    socket.on('close', (code, reason) => {
      stats.open -= 1;
      if (connection.idleTimer) clearTimeout(connection.idleTimer);
      connections.delete(connection);
      for (const context of connection.contexts.values()) {
        context.cancelled = true;
        if (context.bufferTimer) clearTimeout(context.bufferTimer);
      }
      if (!stats.closes.some((c) => c.connection === connection.id)) stats.closes.push({ connection: connection.id, code, reason: reason.toString(), by: 'client' });
    });
    socket.on('error', () => {});
  }

  function resetIdle(connection: Connection): void {
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => closeByServer(connection, 1000, 'connection idle timeout'), idleCloseMs);
  }

  function closeByServer(connection: Connection, code: number, reason: string): void {
    stats.closes.push({ connection: connection.id, code, reason, by: 'server' });
    connection.socket.close(code, reason);
  }

  /** `written`: called once the frame has left for the kernel. */
  function send(connection: Connection, frame: Record<string, unknown>, written?: () => void): void {
    if (connection.stalled || connection.socket.readyState !== 1) return;
    const type = String(frame.type);
    stats.sent[type] = (stats.sent[type] ?? 0) + 1;
    if (type === 'error') stats.errors.push(frame);
    connection.socket.send(JSON.stringify(frame), written);
  }

  function sendError(connection: Connection, contextId: string | null, status: number, errorCode: string | null, title: string, message: string): void {
    const requestId = `${crypto.randomUUID()}${contextId ? `:${contextId}` : ''}:${++requestIds}`;
    const frame: Record<string, unknown> =
      connection.version >= STRUCTURED_ERRORS_VERSION
        ? { type: 'error', done: true, status_code: status, error_code: errorCode, title, message, request_id: requestId }
        : { type: 'error', done: true, status_code: status, error: `${title}: ${message}` };
    if (contextId) frame.context_id = contextId;
    send(connection, frame);
  }

  function receive(connection: Connection, json: unknown): void {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      sendError(connection, null, 400, 'invalid_request', 'Invalid request', 'Messages must be JSON objects.');
      return;
    }
    const request = json as Record<string, unknown>;
    const contextId = typeof request.context_id === 'string' && request.context_id !== '' ? request.context_id : null;
    if (request.cancel === true) {
      if (!contextId) return sendError(connection, null, 400, 'invalid_request', 'Invalid request', 'A cancel request needs a context_id.');
      const context = connection.contexts.get(contextId);
      if (context) {
        context.cancelled = true;
        context.lateChunks = lateChunksAfterCancel;
        if (context.bufferTimer) clearTimeout(context.bufferTimer);
        connection.contexts.delete(contextId);
        connection.closedContexts.add(contextId);
      }
      return;
    }
    const problem = validate(request);
    if (problem) return sendError(connection, contextId, 400, 'invalid_request', 'Invalid request', problem);
    if (!contextId) return sendError(connection, null, 400, 'invalid_request', 'Invalid request', 'context_id is required.');
    const transcript = request.transcript as string;
    let context = connection.contexts.get(contextId);
    if (!context) {
      if (connection.closedContexts.has(contextId)) {
        return sendError(connection, contextId, 400, 'context_closed', 'Context closed', `Context ${contextId} has already finished; start a new context.`);
      }
      if (transcript.trim() === '') {
        return sendError(connection, contextId, 400, 'empty_transcript', 'Invalid request', 'The first transcript of a context must not be empty.');
      }
      context = new EmulatedContext(contextId, request, claimFaults());
      connection.contexts.set(contextId, context);
      stats.contexts += 1;
    } else if (context.inputClosed) {
      return sendError(connection, contextId, 400, 'context_closed', 'Context closed', 'The context received continue: false and takes no more input.');
    } else if (fixedFields(request) !== context.fixed) {
      failContext(connection, context, 400, 'invalid_request', 'Invalid request', 'All fields except transcript, continue and flush must stay the same within a context.');
      return;
    }
    input(connection, context, transcript, request.continue === true, request.flush === true);
  }

  function claimFaults(): ContextFaults {
    const claimed: ContextFaults = {};
    if (faults.dropAfterChunks !== undefined) claimed.dropAfterChunks = faults.dropAfterChunks;
    if (faults.dropAfterFlush) claimed.dropAfterFlush = true;
    if (faults.dropContexts && faults.dropContexts.times > 0) {
      claimed.dropAfterChunks = faults.dropContexts.afterChunks;
      faults.dropContexts.times -= 1;
    }
    if (faults.stallAfterChunks !== undefined) claimed.stallAfterChunks = faults.stallAfterChunks;
    if (faults.errorAfterChunks !== undefined) claimed.errorAfterChunks = faults.errorAfterChunks;
    if (faults.garbageBeforeChunks !== undefined) claimed.garbageBeforeChunks = faults.garbageBeforeChunks;
    delete faults.dropAfterChunks;
    delete faults.dropAfterFlush;
    delete faults.stallAfterChunks;
    delete faults.errorAfterChunks;
    delete faults.garbageBeforeChunks;
    return claimed;
  }

  function input(connection: Connection, context: EmulatedContext, transcript: string, more: boolean, flush: boolean): void {
    context.pending += transcript;
    const release = (text: string) => {
      if (text.trim() !== '') schedule(connection, context, { kind: 'speak', text });
    };
    if (flush || !more) {
      if (context.bufferTimer) clearTimeout(context.bufferTimer);
      context.bufferTimer = null;
      release(context.pending);
      context.pending = '';
      if (flush) schedule(connection, context, { kind: 'flush' });
      if (!more) {
        context.inputClosed = true;
        schedule(connection, context, { kind: 'done' });
      }
      return;
    }
    if (context.bufferDelayMs === 0) {
      release(context.pending);
      context.pending = '';
      return;
    }
    // Buffering: speak up to the last sentence boundary now, the rest when the buffer delay runs out.
    let cut = 0;
    for (const match of context.pending.matchAll(SENTENCE_BOUNDARY)) cut = match.index + match[0].length;
    if (cut > 0) {
      release(context.pending.slice(0, cut));
      context.pending = context.pending.slice(cut);
    }
    if (context.pending.trim() !== '' && !context.bufferTimer) {
      context.bufferTimer = setTimeout(() => {
        context.bufferTimer = null;
        release(context.pending);
        context.pending = '';
      }, context.bufferDelayMs);
    } else if (context.pending.trim() === '' && context.bufferTimer) {
      clearTimeout(context.bufferTimer);
      context.bufferTimer = null;
    }
  }

  function schedule(connection: Connection, context: EmulatedContext, item: Item): void {
    context.work = context.work.then(() => run(connection, context, item)).catch(() => {});
  }

  async function run(connection: Connection, context: EmulatedContext, item: Item): Promise<void> {
    if (context.finished || (context.cancelled && context.lateChunks <= 0)) return;
    if (item.kind === 'flush') {
      // The drop waits for the flush_done to be on its way: a cut socket loses what TLS had not yet sent.
      const drop = context.faults.dropAfterFlush
        ? () => {
            stats.closes.push({ connection: connection.id, code: 1006, reason: 'injected drop', by: 'server' });
            connection.socket.terminate();
          }
        : undefined;
      send(connection, { type: 'flush_done', done: false, flush_done: true, flush_id: context.flushId, status_code: 206, context_id: context.id }, drop);
      context.flushId += 1;
      return;
    }
    if (item.kind === 'done') {
      if (context.cancelled) return;
      context.finished = true;
      send(connection, { type: 'done', done: true, status_code: 206, context_id: context.id });
      connection.contexts.delete(context.id);
      connection.closedContexts.add(context.id);
      return;
    }
    await speak(connection, context, item.text);
  }

  async function speak(connection: Connection, context: EmulatedContext, text: string): Promise<void> {
    await delay(firstChunkDelayMs);
    const started = performance.now();
    const synthesis = engine.synthesize(text.trim(), context.voice);
    const transcoder = createTranscoder({ encoding: 'pcm_f32le', sampleRate: ESPEAK_SAMPLE_RATE }, context.format);
    const source = new Uint8Array(synthesis.samples.buffer, synthesis.samples.byteOffset, synthesis.samples.byteLength);
    const head = transcoder.push(source);
    const tail = transcoder.flush();
    const audio = new Uint8Array(head.byteLength + tail.byteLength);
    audio.set(head);
    audio.set(tail, head.byteLength);
    const stepTime = performance.now() - started;

    const sampleBytes = bytesPerSample(context.format.encoding);
    const chunkBytes = Math.max(1, Math.round((context.format.sampleRate * chunkMs) / 1000)) * sampleBytes;
    const base = context.seconds;
    const segmentSeconds = audio.byteLength / sampleBytes / context.format.sampleRate;
    const scale = synthesis.samples.length > 0 ? segmentSeconds / (synthesis.samples.length / ESPEAK_SAMPLE_RATE) : 1;
    const words = synthesis.words.map((w) => ({ word: w.word, start: base + w.start * scale, end: base + w.end * scale }));
    let wordsSent = 0;

    for (let offset = 0; offset < audio.byteLength; offset += chunkBytes) {
      if (offset > 0) await delay(chunkIntervalMs + (faults.chunkDelayMs ?? 0));
      else if (faults.chunkDelayMs) await delay(faults.chunkDelayMs);
      if (context.cancelled) {
        if (context.lateChunks <= 0) return;
        context.lateChunks -= 1;
      }
      if (connection.socket.readyState !== 1) return;
      const { faults: f } = context;
      if (f.garbageBeforeChunks !== undefined && context.chunks < f.garbageBeforeChunks) sendGarbage(connection, context.id);
      const data = Buffer.from(audio.subarray(offset, offset + chunkBytes)).toString('base64');
      send(connection, { type: 'chunk', data, done: false, status_code: 206, step_time: Math.round(stepTime * 100) / 100, flush_id: context.flushId, context_id: context.id });
      context.chunks += 1;
      context.seconds = base + Math.min(audio.byteLength, offset + chunkBytes) / sampleBytes / context.format.sampleRate;

      const covered = words.filter((w, i) => i >= wordsSent && w.end <= context.seconds + 1e-6);
      if (covered.length > 0 && !context.cancelled) {
        sendTimestamps(connection, context, covered);
        wordsSent += covered.length;
      }
      if (f.dropAfterChunks !== undefined && context.chunks >= f.dropAfterChunks) {
        stats.closes.push({ connection: connection.id, code: 1006, reason: 'injected drop', by: 'server' });
        connection.socket.terminate();
        return;
      }
      if (f.stallAfterChunks !== undefined && context.chunks >= f.stallAfterChunks) {
        connection.stalled = true;
        return;
      }
      if (f.errorAfterChunks !== undefined && context.chunks >= f.errorAfterChunks.chunks) {
        const e = f.errorAfterChunks;
        failContext(connection, context, e.status_code, e.error_code, e.title, e.message);
        return;
      }
    }
    if (!context.cancelled && wordsSent < words.length) sendTimestamps(connection, context, words.slice(wordsSent));
  }

  function sendTimestamps(connection: Connection, context: EmulatedContext, words: Array<{ word: string; start: number; end: number }>): void {
    const round = (s: number) => Math.round(s * 1e4) / 1e4;
    if (context.words && options.wordTimestamps !== false) {
      send(connection, {
        type: 'timestamps',
        done: false,
        status_code: 206,
        flush_id: context.flushId,
        context_id: context.id,
        word_timestamps: { words: words.map((w) => w.word), start: words.map((w) => round(w.start)), end: words.map((w) => round(w.end)) },
      });
    }
    if (context.phonemes) {
      // espeak reports words only: each letter stands in for a phoneme, spread evenly over its word.
      const phonemes: Array<{ p: string; start: number; end: number }> = [];
      for (const w of words) {
        const letters = Array.from(w.word.replace(/[^\p{L}\p{N}]/gu, '')) ;
        const step = letters.length > 0 ? (w.end - w.start) / letters.length : 0;
        letters.forEach((p, i) => phonemes.push({ p: p.toLowerCase(), start: w.start + i * step, end: w.start + (i + 1) * step }));
      }
      send(connection, {
        type: 'phoneme_timestamps',
        done: false,
        status_code: 206,
        flush_id: context.flushId,
        context_id: context.id,
        phoneme_timestamps: { phonemes: phonemes.map((p) => p.p), start: phonemes.map((p) => round(p.start)), end: phonemes.map((p) => round(p.end)) },
      });
    }
  }

  function sendGarbage(connection: Connection, contextId: string): void {
    if (connection.stalled || connection.socket.readyState !== 1) return;
    stats.sent.garbage = (stats.sent.garbage ?? 0) + 1;
    for (const frame of [
      'this is not json {',
      JSON.stringify({ type: 'mystery', context_id: contextId, note: 'a message type the client does not know' }),
      JSON.stringify({ type: 'chunk', context_id: contextId }),
      JSON.stringify({ type: 'chunk', context_id: contextId, data: 12345 }),
      JSON.stringify({ type: 'timestamps', context_id: contextId, word_timestamps: 'garbled' }),
      JSON.stringify({ type: 'done' }),
      'null',
      '42',
      '[1,2,3]',
    ]) {
      connection.socket.send(frame);
    }
    connection.socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
  }

  function failContext(connection: Connection, context: EmulatedContext, status: number, errorCode: string | null, title: string, message: string): void {
    context.finished = true;
    context.cancelled = true;
    if (context.bufferTimer) clearTimeout(context.bufferTimer);
    connection.contexts.delete(context.id);
    connection.closedContexts.add(context.id);
    sendError(connection, context.id, status, errorCode, title, message);
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';

  return {
    url: `https://${host}:${port}`,
    wssUrl: `wss://${host}:${port}/tts/websocket`,
    port,
    ca: cert,
    caFile: EMULATOR_CERT_FILE,
    stats,
    faults,
    setFaults(next) {
      Object.assign(faults, next);
    },
    dropConnections() {
      for (const connection of connections) {
        stats.closes.push({ connection: connection.id, code: 1006, reason: 'dropped by test', by: 'server' });
        connection.socket.terminate();
      }
    },
    setIdleClose(ms) {
      idleCloseMs = ms;
      for (const connection of connections) resetIdle(connection);
    },
    requestsOf(contextId) {
      return stats.requests
        .map((r) => r.json)
        .filter((j): j is Record<string, unknown> => typeof j === 'object' && j !== null && !Array.isArray(j))
        .filter((j) => contextId === undefined || j.context_id === contextId);
    },
    async close() {
      for (const connection of connections) {
        if (connection.idleTimer) clearTimeout(connection.idleTimer);
        connection.socket.terminate();
      }
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

/** Why a generation request is invalid, as Cartesia would say it; null when it is valid. */
function validate(request: Record<string, unknown>): string | null {
  for (const field of ['model_id', 'transcript', 'voice', 'output_format'] as const) {
    if (request[field] === undefined || request[field] === null) return `${field} is required.`;
  }
  if (typeof request.model_id !== 'string' || !MODEL_PATTERN.test(request.model_id)) return `Invalid model_id ${JSON.stringify(request.model_id)}.`;
  if (typeof request.transcript !== 'string') return 'transcript must be a string.';
  const voice = request.voice;
  const voiceId = typeof voice === 'string' ? voice : typeof voice === 'object' && voice !== null ? (voice as Record<string, unknown>).id : undefined;
  if (typeof voiceId !== 'string' || voiceId === '') return 'voice must be a voice ID or an object with an id.';
  const format = request.output_format as Record<string, unknown>;
  if (typeof format !== 'object') return 'output_format must be an object.';
  if (format.container !== 'raw') return 'The WebSocket supports only output_format.container "raw".';
  if (!(ENCODINGS as readonly unknown[]).includes(format.encoding)) return `Unsupported encoding ${JSON.stringify(format.encoding)}.`;
  if (!(SAMPLE_RATES as readonly unknown[]).includes(format.sample_rate)) return `Unsupported sample_rate ${JSON.stringify(format.sample_rate)}.`;
  if (request.language !== undefined && request.language !== null && !LANGUAGES.has(request.language as string)) return `Unsupported language ${JSON.stringify(request.language)}.`;
  const delayMs = request.max_buffer_delay_ms;
  if (delayMs !== undefined && delayMs !== null && (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > 5000)) {
    return 'max_buffer_delay_ms must be an integer between 0 and 5000.';
  }
  for (const flag of ['continue', 'flush', 'add_timestamps', 'add_phoneme_timestamps', 'use_normalized_timestamps'] as const) {
    if (request[flag] !== undefined && request[flag] !== null && typeof request[flag] !== 'boolean') return `${flag} must be a boolean.`;
  }
  const config = request.generation_config;
  if (config !== undefined) {
    if (typeof config !== 'object' || config === null) return 'generation_config must be an object.';
    const { speed, volume, emotion } = config as Record<string, unknown>;
    if (speed !== undefined && (typeof speed !== 'number' || speed < 0.6 || speed > 1.5)) return 'generation_config.speed must be between 0.6 and 1.5.';
    if (volume !== undefined && (typeof volume !== 'number' || volume < 0.5 || volume > 2)) return 'generation_config.volume must be between 0.5 and 2.0.';
    if (emotion !== undefined && typeof emotion !== 'string') return 'generation_config.emotion must be a string.';
  }
  return null;
}

function fixedFields(request: Record<string, unknown>): string {
  return JSON.stringify(FIXED_FIELDS.map((field) => request[field] ?? null));
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
