/**
 * `--out` in step: records what the scheduler sends to be heard, on its timeline. Sample 0 is the first
 * audio heard; gaps are silence, an underrun's too (the scheduler moves the file as its cursor jumps); a flush
 * (a cut that killed ffplay) takes back what was never heard.
 * Beside the file: `<file>.timeline.json` (the relay time sample 0 is heard at, the late and corrected
 * counts) and, when something was cut, `<file>.cuts.json` as without sync.
 */
import { closeSync, ftruncateSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { bytesPerSample } from '../../shared/audio-format.ts';
import { encodeSamples } from '../../shared/codecs.ts';
import type { UtteranceEnd } from '../../shared/protocol.ts';
import { patchWavSizes, WAV_UNKNOWN_SIZE, wavHeader, wavPadding } from '../../shared/wav.ts';
import { AgentError } from '../agent-error.ts';
import { cutsPath, type WavCut } from '../sinks/wav.ts';
import type { ContentSpan } from './content.ts';

export function timelinePath(wavPath: string): string {
  return `${wavPath}.timeline.json`;
}

export class TimelineWav {
  private readonly fd: number;
  private readonly header: Uint8Array;
  private readonly width: number;
  /** Samples in the file. */
  length = 0;
  /** Relay ms at which sample 0 is heard (null until the first audio); the scheduler sets it. */
  startAt: number | null = null;
  private readonly utterances = new Map<number, { utterance: number; start_sample: number; samples: number }>();
  /** Utterances cut short; located in the file at finalise, once the audio heard before each cut was written. */
  private readonly cutEnds: UtteranceEnd[] = [];

  constructor(
    readonly path: string,
    private readonly format: AudioFormat,
  ) {
    this.width = bytesPerSample(format.encoding);
    this.header = wavHeader(format, WAV_UNKNOWN_SIZE);
    try {
      this.fd = openSync(path, 'w');
      writeSync(this.fd, this.header, 0, this.header.byteLength, 0);
      rmSync(cutsPath(path), { force: true });
    } catch (error) {
      throw failure(path, 'cannot create', error);
    }
  }

  /**
   * Writes `out` from its first to its last audio span, out[0] landing at file position `position`;
   * silence before it is filled in. `startAt` (the relay ms of the first sample) is set by the first write.
   */
  write(position: number, out: Float32Array, spans: ContentSpan[]): void {
    if (spans.length === 0) return;
    const first = spans[0]!.offset;
    const last = Math.max(...spans.map((s) => s.offset + s.count));
    this.pad(position + first);
    this.put(position + first, encodeSamples(this.format.encoding, out.subarray(first, last)));
    for (const span of spans) this.note(position + span.offset, span);
  }

  /** Takes back everything from `position` (never heard: the player was killed). */
  truncate(position: number): void {
    if (position >= this.length) return;
    this.length = Math.max(0, position);
    ftruncateSync(this.fd, this.header.byteLength + this.length * this.width);
    for (const entry of this.utterances.values()) entry.samples = Math.max(0, Math.min(entry.samples, this.length - entry.start_sample));
  }

  /**
   * The end arrives a sync delay before the cut is heard, often before any of the utterance was written: it is
   * located at finalise. An utterance cut before any of it was heard is not in the file, nor in the cuts file.
   */
  ended(message: UtteranceEnd): void {
    if (message.reason !== 'done') this.cutEnds.push(message);
  }

  private located(): WavCut[] {
    return this.cutEnds.flatMap((message) => {
      const entry = this.utterances.get(message.utterance);
      if (entry === undefined || message.reason === 'done') return [];
      const cut_at_seconds = Number(((entry.start_sample + entry.samples) / this.format.sampleRate).toFixed(4));
      const cut: WavCut = { ...entry, utterance_id: message.utterance_id, reason: message.reason, cut_at_seconds };
      if (message.error !== undefined) cut.error = message.error;
      return [cut];
    });
  }

  finalise(counts: Record<string, number>): void {
    try {
      const dataBytes = this.length * this.width;
      const padding = wavPadding(dataBytes);
      if (padding > 0) writeSync(this.fd, new Uint8Array(padding), 0, padding, this.header.byteLength + dataBytes);
      patchWavSizes(this.header, dataBytes);
      writeSync(this.fd, this.header, 0, this.header.byteLength, 0);
      const timeline = { wav: this.path, sample_rate: this.format.sampleRate, start_at: this.startAt, samples: this.length, ...counts, utterances: [...this.utterances.values()] };
      writeFileSync(timelinePath(this.path), `${JSON.stringify(timeline, null, 2)}\n`);
      const cuts = this.located();
      if (cuts.length > 0) {
        writeFileSync(cutsPath(this.path), `${JSON.stringify({ wav: this.path, format: this.format, samples: this.length, cuts }, null, 2)}\n`);
      }
    } catch (error) {
      throw failure(this.path, 'cannot finalise', error);
    } finally {
      closeSync(this.fd);
    }
  }

  private note(position: number, span: ContentSpan): void {
    const entry = this.utterances.get(span.utterance);
    if (entry === undefined) this.utterances.set(span.utterance, { utterance: span.utterance, start_sample: position, samples: span.count });
    else entry.samples = position + span.count - entry.start_sample;
  }

  private pad(position: number): void {
    if (position > this.length) this.put(this.length, encodeSamples(this.format.encoding, new Float32Array(position - this.length)));
  }

  private put(position: number, bytes: Uint8Array): void {
    try {
      writeSync(this.fd, bytes, 0, bytes.byteLength, this.header.byteLength + position * this.width);
    } catch (error) {
      throw failure(this.path, 'cannot write', error);
    }
    this.length = Math.max(this.length, position + bytes.byteLength / this.width);
  }
}

function failure(path: string, what: string, error: unknown): AgentError {
  const why = error instanceof Error ? error.message : String(error);
  return new AgentError('output_failed', `${what} ${path}: ${why}`, { cause: error });
}
