/** Where espeak-ng synthesizes: in a worker thread when the runtime can start one, else inline on the event loop. */
import type { Logger } from '../../ops/logger.ts';
import type { StartWorker, WorkerPort } from '../../runtime/contract.ts';
import { type ChunkHandler, type EspeakVoice, loadEspeakEngine, type SynthesisSummary } from './engine.ts';
import { isThreadReply, type SpeakRequest } from './thread-messages.ts';

/**
 * One thread for the whole process, whatever the number of streams: the host has two cores shared with
 * the event loop, a second engine would double the memory and compete for the same core, and one engine
 * already speaks ~20× faster than real time, so a queue of sentences keeps every stream ahead of playback.
 */
export const ESPEAK_THREADS = 1;

/** Loading the engine takes ~0.1–0.5 s; a cold thread on a busy machine some seconds more. Then: inline. */
const THREAD_START_TIMEOUT_MS = 15_000;

const THREAD_SCRIPT = new URL('./thread.ts', import.meta.url);

const NOTHING: SynthesisSummary = { sampleCount: 0, words: [] };

export interface EspeakSynthesizer {
  /** The loaded engine's voices. */
  readonly voices: EspeakVoice[];
  /** Synthesis runs in a worker thread (off the event loop). */
  readonly threaded: boolean;
  /**
   * Speaks `text`, handing its samples (at ESPEAK_SAMPLE_RATE) to `onChunk` as they are made. Once `signal`
   * aborts, no chunk follows and a request not yet started never starts.
   */
  synthesize(text: string, voice: string, onChunk: ChunkHandler, signal: AbortSignal): Promise<SynthesisSummary>;
  close(): Promise<void>;
}

/**
 * Starts the engine thread when `startWorker` is given; when it is not, or the thread does not come up,
 * synthesizes inline (blocking the event loop ~50–250 ms a sentence) and says so once.
 */
export async function openEspeakSynthesizer(options: { startWorker?: StartWorker | undefined; logger?: Logger | undefined } = {}): Promise<EspeakSynthesizer> {
  const { startWorker, logger } = options;
  if (!startWorker) {
    logger?.warn('espeak-ng synthesizes on the event loop: this runtime starts no worker threads');
    return openInlineSynthesizer();
  }
  try {
    const started = performance.now();
    const synthesizer = await ThreadSynthesizer.start(startWorker(THREAD_SCRIPT), logger);
    logger?.debug('espeak-ng loaded in its worker thread', { ms: Math.round(performance.now() - started) });
    return synthesizer;
  } catch (error) {
    logger?.warn('espeak-ng synthesizes on the event loop: its worker thread did not start', { error });
    return openInlineSynthesizer();
  }
}

export async function openInlineSynthesizer(): Promise<EspeakSynthesizer> {
  const engine = await loadEspeakEngine();
  return {
    voices: engine.voices,
    threaded: false,
    async synthesize(text, voice, onChunk, signal) {
      if (signal.aborted) return NOTHING;
      return engine.synthesizeInChunks(text, voice, onChunk);
    },
    async close() {},
  };
}

interface Job {
  id: number;
  text: string;
  voice: string;
  onChunk: ChunkHandler;
  signal: AbortSignal;
  /** Tells the thread to stop this request, once it is the thread's (a cancel mid-sentence). */
  stopInThread?: () => void;
  resolve(summary: SynthesisSummary): void;
  reject(error: Error): void;
}

/** The relay's side of the engine thread: a FIFO of requests from every context, one at the thread at a time. */
class ThreadSynthesizer implements EspeakSynthesizer {
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private nextId = 0;
  private state: 'starting' | 'running' | 'failed' | 'closed' = 'starting';
  private started: { resolve(): void; reject(error: Error): void } | null = null;
  private inline: Promise<EspeakSynthesizer> | null = null;
  /**
   * Shared with the thread: the id of the request to stop. A cancelled sentence stops at the engine's next
   * chunk instead of running to its end (~20 ms warm) ahead of the next utterance's first words.
   */
  private readonly stop = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
  voices: EspeakVoice[] = [];

  get threaded(): boolean {
    return this.state === 'running';
  }

  private constructor(
    private readonly port: WorkerPort,
    private readonly logger: Logger | undefined,
  ) {
    port.onMessage((message) => this.receive(message));
    port.onError((error) => this.fail(error));
  }

  /** Resolves once the thread has loaded the engine; rejects (the thread ended) when it cannot. */
  static start(port: WorkerPort, logger: Logger | undefined): Promise<ThreadSynthesizer> {
    const synthesizer = new ThreadSynthesizer(port, logger);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => synthesizer.fail(new Error(`no engine within ${THREAD_START_TIMEOUT_MS} ms`)), THREAD_START_TIMEOUT_MS);
      synthesizer.started = {
        resolve: () => {
          clearTimeout(timer);
          resolve(synthesizer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  synthesize(text: string, voice: string, onChunk: ChunkHandler, signal: AbortSignal): Promise<SynthesisSummary> {
    if (this.state === 'failed') return this.synthesizeInline(text, voice, onChunk, signal);
    if (this.state === 'closed') return Promise.reject(new Error('The espeak-ng thread is closed.'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: ++this.nextId, text, voice, onChunk, signal, resolve, reject });
      this.sendNext();
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running' || this.state === 'starting';
    this.state = 'closed';
    const error = new Error('The espeak-ng thread was closed.');
    this.current?.reject(error);
    this.current = null;
    for (const job of this.queue.splice(0)) job.reject(error);
    if (wasRunning) await this.port.terminate();
  }

  /** Sends the oldest request whose context still wants it; a cancelled context's requests never start. */
  private sendNext(): void {
    if (this.state !== 'running' || this.current) return;
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      if (job.signal.aborted) {
        job.resolve(NOTHING);
        continue;
      }
      this.current = job;
      const { stop } = this;
      if (stop) {
        job.stopInThread = () => Atomics.store(stop, 0, job.id);
        job.signal.addEventListener('abort', job.stopInThread, { once: true });
      }
      this.port.postMessage({ type: 'speak', id: job.id, text: job.text, voice: job.voice, stop } satisfies SpeakRequest);
      return;
    }
  }

  private receive(message: unknown): void {
    if (!isThreadReply(message)) {
      this.logger?.warn('skipped an unknown message from the espeak-ng thread', { type: typeof message === 'object' && message !== null ? String((message as { type?: unknown }).type) : typeof message });
      return;
    }
    const job = this.current;
    switch (message.type) {
      case 'ready':
        if (this.state !== 'starting') return;
        this.state = 'running';
        this.voices = message.voices;
        this.started?.resolve();
        this.sendNext();
        return;
      case 'failed':
        this.fail(new Error(`espeak-ng did not load in its thread: ${message.message}`));
        return;
      case 'chunk':
        // A cancelled context's chunks, made before the thread could know, are dropped here.
        if (job?.id === message.id && !job.signal.aborted) job.onChunk(message.samples, message.words);
        return;
      case 'spoken':
      case 'error':
        if (job?.id !== message.id) return;
        this.current = null;
        if (job.stopInThread) job.signal.removeEventListener('abort', job.stopInThread);
        if (message.type === 'spoken') job.resolve({ sampleCount: message.sampleCount, words: message.words });
        else job.reject(new Error(message.message));
        this.sendNext();
        return;
    }
  }

  /** The thread is gone: the request it had fails; queued and later ones are synthesized inline. */
  private fail(error: Error): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    const wasStarting = this.state === 'starting';
    this.state = 'failed';
    Promise.resolve(this.port.terminate()).catch((cause: unknown) => this.logger?.warn('the espeak-ng thread did not terminate', { error: cause }));
    if (wasStarting) {
      this.started?.reject(error);
      return;
    }
    this.logger?.error('the espeak-ng thread failed: synthesizing on the event loop from now on', { error });
    this.current?.reject(error);
    this.current = null;
    for (const job of this.queue.splice(0)) {
      this.synthesizeInline(job.text, job.voice, job.onChunk, job.signal).then(job.resolve, job.reject);
    }
  }

  private async synthesizeInline(text: string, voice: string, onChunk: ChunkHandler, signal: AbortSignal): Promise<SynthesisSummary> {
    if (!this.inline) {
      this.inline = openInlineSynthesizer();
      this.inline.catch(() => (this.inline = null));
    }
    return (await this.inline).synthesize(text, voice, onChunk, signal);
  }
}
