/** Feeds chunks to a writable stream in order, waiting for `drain` whenever the stream asks for it. */
import type { Writable } from 'node:stream';

export class WriteQueue {
  readonly #out: Writable;
  #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Set and cleared synchronously by #pump, so a push never misses a running pump nor starts a second one. */
  #pumping = false;
  #idle: Array<() => void> = [];
  #closed = false;

  constructor(out: Writable) {
    this.#out = out;
    out.on('close', () => this.close());
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  push(chunk: Uint8Array): void {
    if (this.#closed || chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#queuedBytes += chunk.byteLength;
    if (!this.#pumping) this.#pump().catch(() => this.close());
  }

  /** Resolves once every queued chunk has been handed to the stream (or the stream is gone). */
  drained(): Promise<void> {
    if (!this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Drops everything queued; later pushes are ignored. */
  close(): void {
    this.#closed = true;
    this.#chunks = [];
    this.#queuedBytes = 0;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (let chunk = this.#chunks.shift(); chunk !== undefined; chunk = this.#chunks.shift()) {
        this.#queuedBytes -= chunk.byteLength;
        if (this.#closed || this.#out.destroyed || this.#out.writableEnded) break;
        if (!this.#out.write(chunk)) await waitForDrain(this.#out);
      }
    } finally {
      this.#pumping = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }
}

function waitForDrain(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}
