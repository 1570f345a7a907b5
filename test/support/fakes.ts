/**
 * In-memory parts for unit tests of the relay core: a provider whose contexts the test drives by hand, and a
 * listener socket that records what it was sent. They implement the same ports the real engines and sockets do.
 */
import { AsyncQueue } from '../../shared/async-queue.ts';
import type { AudioFormat } from '../../shared/audio-format.ts';
import type { ContextOptions, ProviderEvent, TTSContext, TTSProvider } from '../../worker/providers/provider.ts';
import type { ListenerSocket } from '../../worker/listeners/listener.ts';

/** One context of the scripted provider: records what the stream asked of it; the test emits its events. */
export class ScriptedContext implements TTSContext {
  readonly pushed: string[] = [];
  flushes = 0;
  ended = false;
  cancelled = false;
  private readonly queue = new AsyncQueue<ProviderEvent>();
  readonly events: AsyncIterable<ProviderEvent> = this.queue;

  constructor(
    readonly id: string,
    readonly options: ContextOptions,
  ) {}

  push(text: string): void {
    this.pushed.push(text);
  }

  flush(): void {
    this.flushes++;
  }

  end(): void {
    this.ended = true;
  }

  cancel(): void {
    this.cancelled = true;
    this.queue.clear();
  }

  /** Sends `bytes` of silence in the provider's format. */
  audio(bytes: number): void {
    this.queue.push({ type: 'audio', data: new Uint8Array(bytes) });
  }

  /** The provider finished: `done`, then the end of its events. */
  done(): void {
    this.queue.push({ type: 'done' });
    this.queue.close();
  }
}

export class ScriptedProvider implements TTSProvider {
  readonly name = 'espeak';
  readonly defaultVoice = 'en-us';
  readonly upstreamFields = [] as const;
  readonly contexts: ScriptedContext[] = [];
  private waiters: Array<{ number: number; resolve: (context: ScriptedContext) => void }> = [];

  constructor(readonly preferredFormat: AudioFormat = { encoding: 'pcm_s16le', sampleRate: 16000 }) {}

  openContext(options: ContextOptions): ScriptedContext {
    const context = new ScriptedContext(`ctx_${this.contexts.length + 1}`, options);
    this.contexts.push(context);
    const due = this.waiters.filter((waiter) => waiter.number <= this.contexts.length);
    this.waiters = this.waiters.filter((waiter) => !due.includes(waiter));
    for (const waiter of due) waiter.resolve(this.contexts[waiter.number - 1]!);
    return context;
  }

  /** The `number`th context opened (1-based), once it is. */
  context(number: number): Promise<ScriptedContext> {
    const existing = this.contexts[number - 1];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve) => this.waiters.push({ number, resolve }));
  }

  async voices() {
    return [{ id: 'en-us', name: 'English (America)', language: 'en' }];
  }

  async ready(): Promise<void> {}

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}

/** A listener socket that keeps every frame; `open` and `buffered` are the test's to set. */
export class RecordingSocket implements ListenerSocket {
  readonly frames: Array<string | Uint8Array> = [];
  open = true;
  buffered = 0;
  closedWith: { code: number; reason: string } | null = null;
  failSends = false;

  send(data: string | Uint8Array): void {
    if (this.failSends) throw new Error('socket write failed');
    this.frames.push(data);
  }

  close(code: number, reason: string): void {
    this.open = false;
    this.closedWith = { code, reason };
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  isOpen(): boolean {
    return this.open;
  }

  /** The JSON control messages received, parsed. */
  messages(): Array<Record<string, unknown>> {
    return this.frames.filter((frame): frame is string => typeof frame === 'string').map((frame) => JSON.parse(frame) as Record<string, unknown>);
  }

  audioFrames(): Uint8Array[] {
    return this.frames.filter((frame): frame is Uint8Array => frame instanceof Uint8Array);
  }
}
