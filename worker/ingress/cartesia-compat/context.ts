/**
 * One Cartesia context on a compatible connection: its fixed fields, its synthesis, its flush counter and its
 * idle timer. Its events become Cartesia frames in the client's `output_format` as fast as the provider makes
 * them; the stream's listeners hear the same audio in the stream's turn (see synthesis.ts).
 */
import { type AudioFormat } from '../../../shared/audio-format.ts';
import { type CartesiaGenerationRequest, type CartesiaServerMessage } from '../../../shared/cartesia-messages.ts';
import { RelayError } from '../../../shared/errors.ts';
import { createTranscoder, type Transcoder } from '../../../shared/transcoder.ts';
import type { CompatIngress } from './ingress.ts';
import type { ProviderEvent } from '../../providers/provider.ts';
import type { UtteranceResult } from '../../core/utterance.ts';
import { chunkFrame, doneFrame, flushDoneFrame, phonemesFrame, wordsFrame } from './frames.ts';
import { errorFrame } from './errors.ts';
import { Synthesis, synthesisRequestOf } from './synthesis.ts';

export interface ContextHost {
  readonly ingress: CompatIngress;
  readonly stream: string;
  readonly requestId: string;
  /** How long an open context may go without input before it ends as if `continue: false` had come. */
  readonly idleMs: number;
  send(message: CartesiaServerMessage): void;
  /** The context is over for its client (done, error or cancel): it no longer counts against the limit. */
  finished(context: ClientContext): void;
}

export class ClientContext {
  private readonly format: AudioFormat;
  private readonly timestamps: boolean;
  private readonly phonemeTimestamps: boolean;
  private readonly transcoder: Transcoder;
  private synthesis: Synthesis | null = null;
  private opening: Promise<Synthesis> | null = null;
  private lastSentAt: number;
  private flushId = 1;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  /** `continue: false` came (or the context idled out): more input is refused. */
  inputEnded = false;
  /** Done, failed or cancelled: nothing more goes to the client. */
  over = false;

  constructor(
    readonly id: string,
    readonly first: CartesiaGenerationRequest,
    private readonly host: ContextHost,
  ) {
    this.format = { encoding: first.output_format.encoding, sampleRate: first.output_format.sample_rate } as AudioFormat;
    this.timestamps = first.add_timestamps === true;
    this.phonemeTimestamps = first.add_phoneme_timestamps === true;
    this.transcoder = createTranscoder(host.ingress.sourceFormat, this.format);
    this.lastSentAt = host.ingress.now();
  }

  /** Applies one request of this context (the first included), in order. */
  async apply(request: CartesiaGenerationRequest): Promise<void> {
    this.touch();
    const synthesis = await this.open();
    if (this.over) return;
    synthesis.write(request.transcript);
    if (request.flush) synthesis.flush();
    if (request.continue !== true) this.endInput();
  }

  /**
   * The client cancelled (or its socket closed): no more audio for it; listeners hear no more than was already
   * sent. Cartesia sends nothing for a context after its cancel, and SDKs that route by context id may hand an
   * unexpected `done` to another context (cartesia-python yields it to whichever context is reading), so only a
   * client that asked (`heard: true` on its cancel request, the relay's extra field) gets a last `done` carrying
   * `heard`, once what the stream's listeners heard before the cut is known.
   */
  cancel(reportHeard = false): void {
    if (reportHeard && !this.over) this.reportHeardOnceKnown();
    this.stop();
    this.synthesis?.cancel();
    void this.opening?.then((synthesis) => synthesis.cancel(), () => {});
  }

  /** Ends the context with an error frame; its synthesis and its utterance stop. */
  fail(error: RelayError): void {
    if (this.over) return;
    this.cancel();
    this.host.send(errorFrame(error, this.host.requestId, this.id));
  }

  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    this.clearIdle();
    this.synthesis?.end();
  }

  private open(): Promise<Synthesis> {
    this.opening ??= Synthesis.open(this.host.ingress, this.host.stream, synthesisRequestOf(this.first, this.lastSentAt), (event) =>
      this.deliver(event),
    ).then((synthesis) => {
      synthesis.utterance.result.then((result) => this.cut(result), () => {});
      return (this.synthesis = synthesis);
    });
    return this.opening;
  }

  /**
   * The stream's utterance was cut from elsewhere (a barge-in, an HTTP cancel) while the client's context was
   * still generating: it ends with `done` carrying the relay's extra field `heard`, what the stream's listeners
   * heard before the cut (known once their last reports are in). A context already done keeps Cartesia's timing.
   */
  private cut(result: UtteranceResult): void {
    if (this.over || result.reason !== 'cancelled') return;
    this.stop();
    this.synthesis?.cancel();
    this.host.send(heardDoneFrame(this.id, result));
  }

  private reportHeardOnceKnown(): void {
    this.opening
      ?.then((synthesis) => synthesis.utterance.result)
      .then((result) => this.host.send(heardDoneFrame(this.id, result)))
      .catch(() => {});
  }

  private deliver(event: ProviderEvent): void {
    if (this.over) return;
    switch (event.type) {
      case 'audio':
        this.sendAudio(this.transcoder.push(event.data));
        return;
      case 'timestamps':
        if (this.timestamps && event.words.length > 0) this.host.send(wordsFrame(this.id, event.words, this.flushId));
        return;
      case 'phoneme_timestamps':
        if (this.phonemeTimestamps && event.phonemes.length > 0) {
          const phonemes = event.phonemes.map(({ word, start, end }) => ({ phoneme: word, start, end }));
          this.host.send(phonemesFrame(this.id, phonemes, this.flushId));
        }
        return;
      case 'flush_done':
        this.host.send(flushDoneFrame(this.id, this.flushId++));
        return;
      case 'done':
        this.sendAudio(this.transcoder.flush());
        this.stop();
        this.host.send(doneFrame(this.id));
        return;
      case 'error':
        this.stop();
        this.host.send(errorFrame(event.error, this.host.requestId, this.id));
        return;
    }
  }

  private sendAudio(data: Uint8Array): void {
    if (data.byteLength === 0) return;
    const now = this.host.ingress.now();
    this.host.send(chunkFrame(this.id, data, Math.round((now - this.lastSentAt) * 10) / 10, this.flushId));
    this.lastSentAt = now;
  }

  private stop(): void {
    if (this.over) return;
    this.over = true;
    this.inputEnded = true;
    this.clearIdle();
    this.host.finished(this);
  }

  private touch(): void {
    this.clearIdle();
    if (this.inputEnded) return;
    this.idleTimer = setTimeout(() => this.endInput(), this.host.idleMs);
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

/** A cut context's last frame: Cartesia's `done`, with `heard` where the stream could tell. */
function heardDoneFrame(contextId: string, result: UtteranceResult): CartesiaServerMessage {
  return { ...doneFrame(contextId), ...(result.heard ? { heard: result.heard } : {}) };
}
