/** A listener over wss:// that trusts the test certificate: records control messages and audio per utterance. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { type AudioFrame, decodeAudioFrame, type ListenerMessage, parseListenerMessage } from '../../shared/protocol.ts';
import { waitForMessage } from '../support/wait-for-message.ts';

export const TEST_CERT_FILE = fileURLToPath(new URL('../support/certs/cert.pem', import.meta.url));
export const TEST_KEY_FILE = fileURLToPath(new URL('../support/certs/key.pem', import.meta.url));
export const TEST_CA = readFileSync(TEST_CERT_FILE, 'utf8');

export interface TLSListener {
  socket: WebSocket;
  messages: ListenerMessage[];
  frames: AudioFrame[];
  waitFor(predicate: (m: ListenerMessage) => boolean, ms?: number): Promise<ListenerMessage>;
  audioOf(utterance: number): Buffer;
  close(): void;
}

export async function connectTLSListener(baseUrl: string, stream: string, key: string, query: Record<string, string> = {}): Promise<TLSListener> {
  const url = new URL(`/v1/streams/${stream}/listen`, baseUrl.replace(/^http/, 'ws'));
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${key}` }, ca: TEST_CA });
  const messages: ListenerMessage[] = [];
  const frames: AudioFrame[] = [];
  const watchers = new Set<() => void>();
  socket.on('message', (data, binary) => {
    if (binary) {
      const frame = decodeAudioFrame(new Uint8Array(data as Buffer));
      if (frame) frames.push({ ...frame, payload: frame.payload.slice() });
      return;
    }
    const message = parseListenerMessage(data.toString());
    if (message) messages.push(message);
    for (const watch of watchers) watch();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const waitFor = (predicate: (m: ListenerMessage) => boolean, ms = 15_000) => waitForMessage(messages, watchers, predicate, ms, 'listener message');
  return {
    socket,
    messages,
    frames,
    waitFor,
    audioOf: (utterance) => Buffer.concat(frames.filter((f) => f.utterance === utterance).map((f) => f.payload)),
    close: () => socket.close(),
  };
}
