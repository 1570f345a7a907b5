/**
 * The listen command's sink when in step: frames and `timing` go into the playout content, the scheduler
 * writes ffplay (and/or the timeline WAV) on the relay's clock. See scheduler.ts.
 */
import type { AudioFormat } from '../../shared/audio-format.ts';
import { decodeSamples } from '../../shared/codecs.ts';
import type { AudioFrame, TimingMessage, UtteranceEnd, UtteranceStart, WireFormat } from '../../shared/protocol.ts';
import { AgentError } from '../agent-error.ts';
import { localClock } from '../clock-sync.ts';
import type { AudioSink, SinkFailure } from '../sinks/sink.ts';
import { FfplayOutput, ffplayLeadMs } from './ffplay-output.ts';
import { HeardClock } from './heard-clock.ts';
import { loadChime } from './level.ts';
import { WrittenClock, type OutputClock } from './output-clock.ts';
import { Scheduler, TICK_MS, type Output, type PlayoutCounts } from './scheduler.ts';
import { TimelineWav } from './timeline-wav.ts';

/** An utterance after this much quiet gets the preroll (and the chime). */
export const QUIET_SPELL_MS = 5000;
/** Without a device, write just ahead of the (virtual) heard position. */
const WRITTEN_LEAD_MS = 2 * TICK_MS;

export interface ScheduledSinkOptions {
  ffplay: { path: string; env: Record<string, string | undefined> } | null;
  out: string | null;
  latencyMs: number;
  gain: number;
  prerollMs: number;
  chime: string | null;
  /** relay − local clock, ms (null until estimated). */
  offset(): number | null;
  onFailure: SinkFailure;
}

class WrittenOutput implements Output {
  clock: OutputClock = new WrittenClock();
  write(): void {}
  async restart(): Promise<void> {
    this.clock = new WrittenClock();
  }
}

export class ScheduledSink implements AudioSink {
  private format: AudioFormat | null = null;
  private scheduler: Scheduler | null = null;
  private ffplay: FfplayOutput | null = null;
  private wav: TimelineWav | null = null;
  heard: HeardClock | null = null;
  private chime: Float32Array | null = null;
  /** Relay position just past the last audio placed; -Infinity before any. */
  private lastEnd = -Infinity;
  private stopped = false;

  constructor(private readonly options: ScheduledSinkOptions) {}

  get restarts(): number {
    return this.ffplay?.restarts ?? 0;
  }

  counts(): PlayoutCounts | null {
    return this.scheduler?.countsJSON() ?? null;
  }

  setFormat(wire: WireFormat): void {
    const format: AudioFormat = { encoding: wire.encoding, sampleRate: wire.sample_rate };
    if (this.format !== null) {
      if (this.format.encoding === format.encoding && this.format.sampleRate === format.sampleRate) return;
      throw new AgentError('format_changed', `the relay switched to ${format.encoding} ${format.sampleRate} Hz mid-playout; pass --encoding and --sample-rate to pin the format`);
    }
    this.format = format;
    this.start(format);
  }

  timing(message: TimingMessage): void {
    const scheduler = this.scheduler;
    if (scheduler === null) return;
    const first = !scheduler.content.hasOrigin(message.utterance);
    scheduler.content.anchor(message.utterance, message.sample, message.at);
    if (first && message.sample === 0) this.preroll(message.utterance);
  }

  utteranceStart(_message: UtteranceStart): void {}

  write(frame: AudioFrame): void {
    if (this.scheduler === null || this.format === null) return;
    const samples = decodeSamples(this.format.encoding, frame.payload);
    this.scheduler.content.add(frame.utterance, frame.sampleOffset, samples);
    const end = this.scheduler.content.positionOf(frame.utterance, frame.sampleOffset + samples.length);
    if (end !== null) this.lastEnd = Math.max(this.lastEnd, end);
  }

  utteranceEnd(message: UtteranceEnd): void {
    const scheduler = this.scheduler;
    if (scheduler === null) return;
    this.wav?.ended(message);
    if (message.reason !== 'done' && message.at !== undefined) scheduler.cut(message.utterance, message.at).catch(this.options.onFailure);
    scheduler.content.forget(message.utterance);
  }

  disconnected(): void {}

  /** Waits until everything placed has been written and heard, then lets ffplay play out. */
  async finish(): Promise<void> {
    const scheduler = this.scheduler;
    if (this.ffplay === null) return this.abort();
    while (scheduler !== null && !this.stopped && scheduler.content.next() !== null) await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    scheduler?.stop();
    await this.ffplay.playOut(ffplayLeadMs(this.format?.sampleRate ?? 48000) + 3000);
    this.close();
  }

  /**
   * Stops at once. ffplay is killed: what it had not played is never heard, nor recorded. Without a device
   * nobody hears anything, so the recording keeps every sample received, placed where it would be heard.
   */
  async abort(): Promise<void> {
    const scheduler = this.scheduler;
    scheduler?.stop();
    if (this.ffplay === null && scheduler !== null && !this.stopped && Number.isFinite(this.lastEnd)) {
      const until = scheduler.outputAtOfPosition(this.lastEnd);
      if (until !== null) scheduler.catchUp(until);
    }
    await this.ffplay?.kill();
    this.close();
  }

  private close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.wav?.finalise({ ...(this.scheduler?.countsJSON() ?? {}), latency_ms: this.options.latencyMs });
  }

  private start(format: AudioFormat): void {
    const rate = format.sampleRate;
    const { ffplay, out, onFailure } = this.options;
    if (ffplay !== null) this.ffplay = new FfplayOutput({ ...ffplay, rate, onFailure });
    if (out !== null) this.wav = new TimelineWav(out, format);
    if (this.options.chime !== null) this.chime = loadChime(this.options.chime, rate);
    const content = (): Scheduler => scheduler;
    const pending = (utterance: number) => {
      const end = content().content.endOf(utterance);
      const outputAt = end === null ? null : content().outputAtOfPosition(end.position);
      return end === null || outputAt === null ? null : { samples: end.sample, outputAt };
    };
    this.heard = new HeardClock(rate, pending, this.options.latencyMs);
    const scheduler = new Scheduler({
      rate,
      latencyMs: this.options.latencyMs,
      gain: this.options.gain,
      leadMs: this.ffplay !== null ? ffplayLeadMs(rate) : WRITTEN_LEAD_MS,
      offset: this.options.offset,
      now: localClock,
      output: this.ffplay ?? new WrittenOutput(),
      wav: this.wav,
      heard: this.heard,
    });
    this.scheduler = scheduler;
    scheduler.start();
  }

  /** After a quiet spell, the chime (cut to --preroll-ms when that is shorter) ends where the utterance begins. */
  private preroll(utterance: number): void {
    const scheduler = this.scheduler!;
    const start = scheduler.content.positionOf(utterance, 0);
    const rate = this.format!.sampleRate;
    if (start === null || start - this.lastEnd < (QUIET_SPELL_MS * rate) / 1000 || this.chime === null) return;
    const window = this.options.prerollMs > 0 ? Math.round((this.options.prerollMs * rate) / 1000) : this.chime.length;
    const chime = this.chime.subarray(0, Math.min(window, this.chime.length));
    scheduler.content.place(-1, start - chime.length, chime);
  }
}
