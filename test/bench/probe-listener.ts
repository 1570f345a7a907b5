/**
 * A listener that timestamps audio as it arrives: the moment an utterance's first audio frame reaches it,
 * and the moment its `utterance_end` does. The latency figures are read off these timestamps.
 */
import WebSocket from 'ws';
import { decodeAudioFrame } from '../../shared/protocol.ts';

export interface UtteranceTiming {
  utterance: number;
  /** performance.now() when the utterance's first audio frame arrived. */
  firstAudioAt: number;
  endedAt: number | null;
  audioBytes: number;
}

export class ProbeListener {
  private readonly timings = new Map<number, UtteranceTiming>();
  private readonly audioWaiters: Array<{ after: number; resolve: (timing: UtteranceTiming) => void }> = [];
  private readonly endWaiters: Array<{ utterance: number; resolve: () => void }> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const now = performance.now();
      if (isBinary) this.onAudio(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), now);
      else this.onText(data.toString(), now);
    });
  }

  /** Connects to a relay stream (or any server sending audio frames) and waits for the socket to open. */
  static open(url: string, headers: Record<string, string> = {}): Promise<ProbeListener> {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new ProbeListener(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    });
  }

  /** Resolves at the first audio of an utterance numbered above `after`. */
  nextAudio(after: number): Promise<UtteranceTiming> {
    for (const timing of this.timings.values()) if (timing.utterance > after && !Number.isNaN(timing.firstAudioAt)) return Promise.resolve(timing);
    return new Promise((resolve) => this.audioWaiters.push({ after, resolve }));
  }

  /** Resolves once the utterance's end message has arrived. */
  ended(utterance: number): Promise<void> {
    if (this.timings.get(utterance)?.endedAt != null) return Promise.resolve();
    return new Promise((resolve) => this.endWaiters.push({ utterance, resolve }));
  }

  /** Forgets finished utterances, so a long run does not accumulate them. */
  forget(utterance: number): void {
    this.timings.delete(utterance);
  }

  close(): void {
    this.socket.close();
  }

  private onAudio(data: Uint8Array, now: number): void {
    const frame = decodeAudioFrame(data);
    if (!frame) return;
    let timing = this.timings.get(frame.utterance);
    if (!timing) {
      timing = { utterance: frame.utterance, firstAudioAt: now, endedAt: null, audioBytes: 0 };
      this.timings.set(frame.utterance, timing);
      for (let i = this.audioWaiters.length - 1; i >= 0; i--) {
        const waiter = this.audioWaiters[i]!;
        if (frame.utterance > waiter.after) {
          this.audioWaiters.splice(i, 1);
          waiter.resolve(timing);
        }
      }
    }
    timing.audioBytes += frame.payload.byteLength;
  }

  private onText(text: string, now: number): void {
    const message = JSON.parse(text) as { type: string; utterance?: number };
    if (message.type !== 'utterance_end' || message.utterance === undefined) return;
    const utterance = message.utterance;
    const timing = this.timings.get(utterance) ?? { utterance, firstAudioAt: Number.NaN, endedAt: null, audioBytes: 0 };
    timing.endedAt = now;
    this.timings.set(utterance, timing);
    for (let i = this.endWaiters.length - 1; i >= 0; i--) {
      if (this.endWaiters[i]!.utterance === utterance) this.endWaiters.splice(i, 1)[0]!.resolve();
    }
  }
}
