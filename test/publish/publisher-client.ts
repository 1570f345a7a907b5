/** A real WebSocket publisher for tests: sends publish messages, records every reply with its arrival time. */
import WebSocket from 'ws';
import { type PublishClientMessage, type PublishServerMessage, parsePublishServerMessage } from '../../shared/publish-protocol.ts';
import { waitForMessage } from '../support/wait-for-message.ts';

export interface RecordedPublisher {
  socket: WebSocket;
  replies: Array<PublishServerMessage & { at: number }>;
  closed: Promise<{ code: number; reason: string }>;
  send(message: PublishClientMessage): void;
  /** Resolves with the first reply matching `predicate` (already received or future). */
  waitFor(predicate: (m: PublishServerMessage) => boolean, ms?: number): Promise<PublishServerMessage>;
  close(): void;
}

export async function connectPublisher(baseUrl: string, stream: string, key: string): Promise<RecordedPublisher> {
  const socket = new WebSocket(new URL(`/v1/streams/${stream}/publish`, baseUrl.replace(/^http/, 'ws')), { headers: { authorization: `Bearer ${key}` } });
  const replies: RecordedPublisher['replies'] = [];
  const watchers = new Set<() => void>();
  socket.on('message', (data) => {
    const message = parsePublishServerMessage(data.toString());
    if (!message) throw new Error(`invalid publish reply: ${data.toString()}`);
    replies.push({ ...message, at: performance.now() });
    for (const watch of watchers) watch();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  const waitFor = (predicate: (m: PublishServerMessage) => boolean, ms = 15_000): Promise<PublishServerMessage> =>
    waitForMessage(replies, watchers, predicate, ms, 'publish reply');
  return {
    socket,
    replies,
    closed,
    send: (message) => socket.send(JSON.stringify(message)),
    waitFor,
    close: () => socket.close(),
  };
}

export const isAck = (m: PublishServerMessage): m is Extract<PublishServerMessage, { type: 'ack' }> => m.type === 'ack';
export const isPublisherEnd = (m: PublishServerMessage): m is Extract<PublishServerMessage, { type: 'utterance_end' }> => m.type === 'utterance_end';
