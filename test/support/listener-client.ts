/** A real WebSocket listener for tests: records every control message and audio frame it receives. */
import WebSocket from 'ws';
import { type AudioFrame, decodeAudioFrame, type ListenerMessage, parseListenerMessage } from '../../shared/protocol.ts';
import { describeReceived } from './wait-for-message.ts';

export interface RecordedListener {
  socket: WebSocket;
  messages: ListenerMessage[];
  frames: AudioFrame[];
  /** Everything in arrival order, for ordering assertions. */
  events: Array<{ kind: 'message'; message: ListenerMessage } | { kind: 'audio'; frame: AudioFrame }>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first message matching `predicate` (already received or future). */
  waitFor<T extends ListenerMessage>(predicate: (m: ListenerMessage) => m is T, ms?: number): Promise<T>;
  waitFor(predicate: (m: ListenerMessage) => boolean, ms?: number): Promise<ListenerMessage>;
  /** Concatenated audio payload bytes of one utterance. */
  audioOf(utterance: number): Uint8Array;
  close(): void;
}

export async function connectListener(
  baseUrl: string,
  stream: string,
  options: { key?: string; query?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<RecordedListener> {
  const url = new URL(`/v1/streams/${stream}/listen`, baseUrl.replace(/^http/, 'ws'));
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const headers = { ...(options.key ? { authorization: `Bearer ${options.key}` } : {}), ...options.headers };
  const socket = new WebSocket(url, { headers });
  const messages: ListenerMessage[] = [];
  const frames: AudioFrame[] = [];
  const events: RecordedListener['events'] = [];
  const watchers = new Set<(m: ListenerMessage) => void>();
  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      const bytes = new Uint8Array(data as Buffer);
      const frame = decodeAudioFrame(bytes);
      if (!frame) throw new Error('undecodable audio frame');
      // Copy: ws may reuse the buffer.
      const copy = { ...frame, payload: frame.payload.slice() };
      frames.push(copy);
      events.push({ kind: 'audio', frame: copy });
      return;
    }
    const message = parseListenerMessage(data.toString());
    if (!message) throw new Error(`invalid listener message: ${data.toString()}`);
    messages.push(message);
    events.push({ kind: 'message', message });
    for (const watch of watchers) watch(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await opened(socket);

  const waitFor = (predicate: (m: ListenerMessage) => boolean, ms = 15_000) => waitForMessage(messages, watchers, predicate, ms);

  return {
    socket,
    messages,
    frames,
    events,
    closed,
    waitFor: waitFor as RecordedListener['waitFor'],
    audioOf: (utterance) => audioOf(frames, utterance),
    close() {
      socket.close();
    },
  };
}

function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

/** The first message matching `predicate`, among those received or those to come within `ms`. */
function waitForMessage(
  messages: ListenerMessage[],
  watchers: Set<(m: ListenerMessage) => void>,
  predicate: (m: ListenerMessage) => boolean,
  ms: number,
): Promise<ListenerMessage> {
  const seen = messages.find(predicate);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      watchers.delete(watch);
      reject(new Error(`no matching listener message within ${ms} ms; got ${describeReceived(messages)}`));
    }, ms);
    const watch = (m: ListenerMessage) => {
      if (!predicate(m)) return;
      clearTimeout(timer);
      watchers.delete(watch);
      resolve(m);
    };
    watchers.add(watch);
  });
}

function audioOf(frames: AudioFrame[], utterance: number): Uint8Array {
  const parts = frames.filter((f) => f.utterance === utterance).map((f) => f.payload);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** Requests an upgrade the relay should refuse; returns the status and the error code header. */
export async function refusedUpgrade(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; code: string | undefined }> {
  const socket = new WebSocket(new URL(path, baseUrl.replace(/^http/, 'ws')), { headers });
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.close();
      reject(new Error('upgrade unexpectedly accepted'));
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, code: res.headers['x-error-code'] as string | undefined });
      res.destroy();
    });
    socket.once('error', () => {});
  });
}

export const isEnd = (m: ListenerMessage): m is Extract<ListenerMessage, { type: 'utterance_end' }> => m.type === 'utterance_end';
export const isStart = (m: ListenerMessage): m is Extract<ListenerMessage, { type: 'utterance_start' }> => m.type === 'utterance_start';
