/**
 * Records to a WAV file. While recording, the header says "size unknown" (readers take everything up to the
 * end of the file), so a crash still leaves a playable file; finishing patches in the exact sizes.
 * Utterances cut short (cancelled, or ended by an error) are listed in `<file>.cuts.json`.
 */
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { samplesIn } from '../../shared/audio-format.ts';
import type { AudioFrame, UtteranceEnd, UtteranceStart, WireFormat } from '../../shared/protocol.ts';
import { patchWavSizes, WAV_UNKNOWN_SIZE, wavHeader, wavPadding } from '../../shared/wav.ts';
import { AgentError } from '../agent-error.ts';
import type { AudioSink, SinkFailure } from './sink.ts';

/** One utterance cut short, located in the recording. */
export interface WavCut {
  utterance: number;
  utterance_id: string;
  reason: 'cancelled' | 'error';
  /** First sample of the utterance in the WAV data. */
  start_sample: number;
  /** Samples of it recorded before the cut; the cut falls at start_sample + samples. */
  samples: number;
  cut_at_seconds: number;
  error?: { code: string; message: string };
}

export function cutsPath(wavPath: string): string {
  return `${wavPath}.cuts.json`;
}

export class WavSink implements AudioSink {
  readonly path: string;
  readonly #onFailure: SinkFailure;
  #fd: number | null = null;
  #format: AudioFormat | null = null;
  #header: Uint8Array | null = null;
  #dataBytes = 0;
  #cuts: WavCut[] = [];
  /** Where each utterance begins in the recording, by utterance number. */
  #starts = new Map<number, { startSample: number; samples: number }>();
  #finalised = false;

  constructor(options: { path: string; onFailure: SinkFailure }) {
    this.path = options.path;
    this.#onFailure = options.onFailure;
  }

  get dataBytes(): number {
    return this.#dataBytes;
  }

  setFormat(wire: WireFormat): void {
    const format: AudioFormat = { encoding: wire.encoding, sampleRate: wire.sample_rate };
    this.#starts.clear();
    if (this.#format !== null) {
      if (this.#format.encoding === format.encoding && this.#format.sampleRate === format.sampleRate) return;
      throw new AgentError(
        'format_changed',
        `the relay switched from ${this.#format.encoding} ${this.#format.sampleRate} Hz to ${format.encoding} ${format.sampleRate} Hz mid-recording; pass --encoding and --sample-rate to pin the format`,
      );
    }
    this.#format = format;
    this.#header = wavHeader(format, WAV_UNKNOWN_SIZE);
    try {
      this.#fd = openSync(this.path, 'w');
      writeSync(this.#fd, this.#header, 0, this.#header.byteLength, 0);
      // A cuts file from an earlier recording to the same path would describe the wrong audio.
      rmSync(cutsPath(this.path), { force: true });
    } catch (error) {
      throw this.#failure('cannot create', error);
    }
  }

  utteranceStart(message: UtteranceStart): void {
    this.#starts.set(message.utterance, { startSample: this.#samples(), samples: 0 });
  }

  write(frame: AudioFrame): void {
    if (this.#fd === null || this.#header === null || this.#format === null) return;
    let start = this.#starts.get(frame.utterance);
    if (start === undefined) {
      // Joined mid-utterance: it starts here as far as this recording knows.
      start = { startSample: this.#samples(), samples: 0 };
      this.#starts.set(frame.utterance, start);
    }
    try {
      writeSync(this.#fd, frame.payload, 0, frame.payload.byteLength, this.#header.byteLength + this.#dataBytes);
    } catch (error) {
      this.#onFailure(this.#failure('cannot write', error));
      this.#closeQuietly();
      return;
    }
    this.#dataBytes += frame.payload.byteLength;
    start.samples += samplesIn(this.#format, frame.payload.byteLength);
  }

  utteranceEnd(message: UtteranceEnd): void {
    const start = this.#starts.get(message.utterance);
    this.#starts.delete(message.utterance);
    if (message.reason === 'done' || start === undefined || this.#format === null) return;
    const cut: WavCut = {
      utterance: message.utterance,
      utterance_id: message.utterance_id,
      reason: message.reason,
      start_sample: start.startSample,
      samples: start.samples,
      cut_at_seconds: Number(((start.startSample + start.samples) / this.#format.sampleRate).toFixed(4)),
    };
    if (message.error !== undefined) cut.error = message.error;
    this.#cuts.push(cut);
  }

  disconnected(): void {}

  async finish(): Promise<void> {
    this.#finalise();
  }

  async abort(): Promise<void> {
    this.#finalise();
  }

  /** Writes the exact sizes (and RIFF's pad byte for an odd length), then the cuts file if anything was cut. */
  #finalise(): void {
    if (this.#finalised || this.#fd === null || this.#header === null || this.#format === null) return;
    this.#finalised = true;
    try {
      const padding = wavPadding(this.#dataBytes);
      if (padding > 0) writeSync(this.#fd, new Uint8Array(padding), 0, padding, this.#header.byteLength + this.#dataBytes);
      patchWavSizes(this.#header, this.#dataBytes);
      writeSync(this.#fd, this.#header, 0, this.#header.byteLength, 0);
      if (this.#cuts.length > 0) {
        const cuts = { wav: this.path, format: this.#format, samples: this.#samples(), cuts: this.#cuts };
        writeFileSync(cutsPath(this.path), `${JSON.stringify(cuts, null, 2)}\n`);
      }
    } catch (error) {
      throw this.#failure('cannot finalise', error);
    } finally {
      this.#closeQuietly();
    }
  }

  #samples(): number {
    return this.#format === null ? 0 : samplesIn(this.#format, this.#dataBytes);
  }

  #closeQuietly(): void {
    if (this.#fd === null) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Already reported through the write that failed.
    }
    this.#fd = null;
  }

  #failure(what: string, error: unknown): AgentError {
    const why = error instanceof Error ? error.message : String(error);
    return new AgentError('output_failed', `${what} ${this.path}: ${why}`, { cause: error });
  }
}
