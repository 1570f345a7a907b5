/**
 * A Cartesia TTS WebSocket client written by hand, as browser code, pipecat's or LiveKit's services are: it
 * records every frame (validated against the API reference's shapes) and waits on them.
 */
import WebSocket from 'ws';
import { type CartesiaServerMessage, cartesiaServerMessageSchema } from '../../shared/cartesia-messages.ts';
import { waitForMessage } from './wait-for-message.ts';

export interface RawCartesiaClient {
  socket: WebSocket;
  messages: CartesiaServerMessage[];
  /** Arrival time (performance.now) of each message, index for index. */
  times: number[];
  send(message: Record<string, unknown>): void;
  waitFor(predicate: (m: CartesiaServerMessage) => boolean, ms?: number): Promise<CartesiaServerMessage>;
  close(): void;
}

/** The API version these clients were written against, sent as Cartesia's clients send it. */
export const TEST_CARTESIA_VERSION = '2026-03-01';

/** Opens the socket with `Cartesia-Version` unless the path or `headers` name one (pass `cartesia-version: ''` to send none). */
export async function rawCartesiaClient(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<RawCartesiaClient> {
  const versioned = { 'cartesia-version': TEST_CARTESIA_VERSION, ...headers };
  if (versioned['cartesia-version'] === '') delete (versioned as Record<string, string>)['cartesia-version'];
  const socket = new WebSocket(new URL(path, baseUrl.replace(/^http/, 'ws')), { headers: versioned });
  const messages: CartesiaServerMessage[] = [];
  const times: number[] = [];
  const watchers = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push(cartesiaServerMessageSchema.parse(JSON.parse(data.toString())));
    times.push(performance.now());
    for (const watch of watchers) watch();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode} ${res.headers['x-error-code']}`)));
  });
  return {
    socket,
    messages,
    times,
    send: (message) => socket.send(JSON.stringify(message)),
    close: () => socket.close(),
    waitFor: (predicate, ms = 15_000) => waitForMessage(messages, watchers, predicate, ms, 'Cartesia message'),
  };
}

/** A generation request with every field the API reference requires. */
export function generation(contextId: string, transcript: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    context_id: contextId,
    model_id: 'sonic-3',
    transcript,
    voice: { mode: 'id', id: 'a0e99841-438c-4a64-b679-ae501e7d6091' },
    output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 },
    language: 'en',
    ...extra,
  };
}

export const isDoneOf = (id: string) => (m: CartesiaServerMessage) => m.type === 'done' && m.context_id === id;
export const isErrorOf = (id: string) => (m: CartesiaServerMessage) => m.type === 'error' && m.context_id === id;
