/** Writes raw samples in the hello format to stdout, for piping into another program; status stays on stderr. */
import type { Writable } from 'node:stream';
import type { AudioFrame, UtteranceEnd, UtteranceStart, WireFormat } from '../../shared/protocol.ts';
import { AgentError } from '../agent-error.ts';
import type { AudioSink, SinkFailure } from './sink.ts';
import { WriteQueue } from './write-queue.ts';

export class StdoutSink implements AudioSink {
  readonly #out: Writable;
  readonly #queue: WriteQueue;
  readonly #onFailure: SinkFailure;
  #format: WireFormat | null = null;

  constructor(options: { out?: Writable; onFailure: SinkFailure }) {
    this.#out = options.out ?? process.stdout;
    this.#onFailure = options.onFailure;
    this.#queue = new WriteQueue(this.#out);
    this.#out.on('error', (error: NodeJS.ErrnoException) => {
      this.#queue.close();
      const why = error.code === 'EPIPE' ? 'the reader closed the pipe' : error.message;
      this.#onFailure(new AgentError('output_failed', `cannot write audio to stdout: ${why}`, { cause: error }));
    });
  }

  /** Raw samples carry no header, so a format change mid-pipe would corrupt the output. */
  setFormat(format: WireFormat): void {
    if (this.#format !== null && (this.#format.encoding !== format.encoding || this.#format.sample_rate !== format.sample_rate)) {
      throw new AgentError(
        'format_changed',
        `the relay switched from ${this.#format.encoding} ${this.#format.sample_rate} Hz to ${format.encoding} ${format.sample_rate} Hz; pass --encoding and --sample-rate to pin the format`,
      );
    }
    this.#format = format;
  }

  utteranceStart(_message: UtteranceStart): void {}

  write(frame: AudioFrame): void {
    this.#queue.push(frame.payload);
  }

  utteranceEnd(_message: UtteranceEnd): void {}

  disconnected(): void {}

  async finish(): Promise<void> {
    await this.#queue.drained();
  }

  async abort(): Promise<void> {
    this.#queue.close();
  }
}
