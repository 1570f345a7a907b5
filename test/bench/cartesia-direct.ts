/**
 * The latency baseline: a client reading the provider directly, one WebSocket to the Cartesia emulator per
 * worker, sending what the relay's provider sends for a whole utterance and timing the first audio chunk.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { AudioFormat } from '../../shared/audio-format.ts';

const CA = readFileSync(fileURLToPath(new URL('../support/certs/cert.pem', import.meta.url)), 'utf8');
// What the Cartesia SDK 4.x sends as its API version.
const CARTESIA_VERSION = '2026-08-14';

export interface DirectTiming {
  /** performance.now() when the request was sent and when the first chunk arrived. */
  sentAt: number;
  firstAudioAt: number;
}

export class CartesiaDirect {
  private readonly waiters = new Map<string, { sentAt: number; first: number; resolveFirst: (t: DirectTiming) => void; resolveDone: () => void }>();
  private contexts = 0;

  private constructor(
    private readonly socket: WebSocket,
    private readonly format: AudioFormat,
  ) {
    socket.on('message', (data: Buffer) => {
      const now = performance.now();
      const message = JSON.parse(data.toString()) as { type: string; context_id?: string };
      const waiter = message.context_id ? this.waiters.get(message.context_id) : undefined;
      if (!waiter) return;
      if (message.type === 'chunk' && waiter.first === 0) {
        waiter.first = now;
        waiter.resolveFirst({ sentAt: waiter.sentAt, firstAudioAt: now });
      } else if (message.type === 'done' || message.type === 'error') {
        this.waiters.delete(message.context_id!);
        waiter.resolveDone();
      }
    });
  }

  static open(wssUrl: string, apiKey: string, format: AudioFormat): Promise<CartesiaDirect> {
    const socket = new WebSocket(wssUrl, {
      ca: CA,
      perMessageDeflate: false,
      headers: { authorization: `Bearer ${apiKey}`, 'cartesia-version': CARTESIA_VERSION },
    });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new CartesiaDirect(socket, format)));
      socket.once('error', reject);
    });
  }

  /** Sends one whole utterance; resolves with its first-chunk timing, and `done` when the context finishes. */
  speak(transcript: string): { first: Promise<DirectTiming>; done: Promise<void> } {
    const contextId = `direct-${++this.contexts}`;
    let resolveFirst!: (t: DirectTiming) => void;
    let resolveDone!: () => void;
    const first = new Promise<DirectTiming>((resolve) => (resolveFirst = resolve));
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const request = JSON.stringify({
      model_id: 'sonic-3.5',
      voice: { mode: 'id', id: '6ccbfb76-1fc6-48f7-b71d-91ac6298247b' },
      output_format: { container: 'raw', encoding: this.format.encoding, sample_rate: this.format.sampleRate },
      language: 'en',
      max_buffer_delay_ms: 0,
      add_timestamps: true,
      transcript,
      context_id: contextId,
      continue: false,
    });
    const sentAt = performance.now();
    this.waiters.set(contextId, { sentAt, first: 0, resolveFirst, resolveDone });
    this.socket.send(request);
    return { first, done };
  }

  close(): void {
    this.socket.close();
  }
}
