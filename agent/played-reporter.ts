/**
 * Tells the relay how far the player got into each utterance (`played` messages, shared/protocol.ts): every
 * PLAYED_REPORT_INTERVAL_MS while it plays, and a final report when its end has played or it was cut.
 *
 * The position is estimated: samples handed to the player, minus what it still holds, taking it to play
 * each sample in real time from the moment it is written (a gap in the input is a gap in the output).
 * ffplay's own queue and device latency are not visible from here (tens of milliseconds, more on its first
 * write), so a report runs slightly ahead of the ear; a player that schedules its output against the relay's
 * clock knows the exact figure and can supply it through `PlaybackClock`.
 */
import { PLAYED_REPORT_INTERVAL_MS, type Played } from '../shared/protocol.ts';

/** Where the estimate comes from; swap in a scheduler's exact playout position when there is one. */
export interface PlaybackClock {
  /** Samples written to the player for the utterance. */
  wrote(utterance: number, samples: number): void;
  /** Samples of the utterance that have played by now. */
  played(utterance: number): number;
  /** Samples of the utterance the player has (played or still held). */
  written(utterance: number): number;
  /** Milliseconds until everything written for the utterance has played. */
  remainingMs(utterance: number): number;
  /** The player dropped what it held (killed at a cut). */
  cut(): void;
}

/** The real-time model: each write plays after what was written before it, or at once if the player ran dry. */
export class WrittenMinusHeld implements PlaybackClock {
  private utterance = -1;
  private writtenSamples = 0;
  /** Clock reading at which everything written so far has played. */
  private playsUntil = 0;

  constructor(
    private readonly sampleRate: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  wrote(utterance: number, samples: number): void {
    const now = this.now();
    if (utterance !== this.utterance) {
      this.utterance = utterance;
      this.writtenSamples = 0;
    }
    this.writtenSamples += samples;
    this.playsUntil = Math.max(this.playsUntil, now) + (samples / this.sampleRate) * 1000;
  }

  played(utterance: number): number {
    if (utterance !== this.utterance) return 0;
    const held = Math.max(0, this.playsUntil - this.now()) * (this.sampleRate / 1000);
    return Math.max(0, Math.round(this.writtenSamples - held));
  }

  written(utterance: number): number {
    return utterance === this.utterance ? this.writtenSamples : 0;
  }

  remainingMs(utterance: number): number {
    return utterance === this.utterance ? Math.max(0, this.playsUntil - this.now()) : 0;
  }

  cut(): void {
    const now = this.now();
    this.writtenSamples = Math.max(0, Math.round(this.writtenSamples - Math.max(0, this.playsUntil - now) * (this.sampleRate / 1000)));
    this.playsUntil = now;
  }
}

export class PlayedReporter {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly finals = new Set<ReturnType<typeof setTimeout>>();
  private settledWaiters: Array<() => void> = [];
  private playing = -1;
  private lastSent = -1;

  constructor(
    private readonly clock: PlaybackClock,
    private readonly send: (report: Played) => void,
  ) {}

  /**
   * An utterance starts: report at once, before its audio. The relay closes an utterance's tally at its end without
   * waiting for listeners that have not reported yet, and a short one can end there (all of it released) before
   * the first audio has made a round trip to the player and back.
   */
  started(utterance: number): void {
    if (utterance !== this.playing) this.startReporting(utterance);
  }

  /** Audio of `utterance` went to the player. */
  wrote(utterance: number, samples: number): void {
    if (utterance !== this.playing) this.startReporting(utterance);
    this.clock.wrote(utterance, samples);
  }

  /**
   * The utterance ended: a cut stops the player now; otherwise its last sample plays after what is held, and
   * the interim reports go on until then (in step that is up to the relay's lead and sync delay later).
   */
  ended(utterance: number, cut: boolean): void {
    if (cut) this.clock.cut();
    const finalAfter = this.clock.remainingMs(utterance);
    if (utterance === this.playing && (cut || finalAfter <= 0)) this.stopReporting();
    // Once what is held has played, all of it has: the figure is fixed now, before the next utterance's audio.
    const samples = this.clock.written(utterance);
    const report = () => {
      if (utterance === this.playing) this.stopReporting();
      this.send({ type: 'played', utterance, samples, final: true });
    };
    if (finalAfter <= 0) return report();
    const timer = setTimeout(() => {
      this.finals.delete(timer);
      report();
      this.wakeIfSettled();
    }, finalAfter);
    this.finals.add(timer);
  }

  /** Resolves once every final report owed has been sent (or the reporter stopped): a count stop awaits it. */
  settled(): Promise<void> {
    if (this.finals.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** The connection dropped or the agent stops: no more reports. */
  stop(): void {
    this.stopReporting();
    for (const timer of this.finals) clearTimeout(timer);
    this.finals.clear();
    this.wakeIfSettled();
  }

  private wakeIfSettled(): void {
    if (this.finals.size > 0) return;
    for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  private startReporting(utterance: number): void {
    this.stopReporting();
    this.playing = utterance;
    // Report at once, before the first interval: the relay awaits the finals only of listeners that report, and
    // a short utterance can end at the relay (all of it released) before a first report 250 ms in.
    this.lastSent = 0;
    this.send({ type: 'played', utterance, samples: 0 });
    this.timer = setInterval(() => {
      const samples = this.clock.played(utterance);
      if (samples === this.lastSent) return;
      this.lastSent = samples;
      this.send({ type: 'played', utterance, samples });
    }, PLAYED_REPORT_INTERVAL_MS);
  }

  private stopReporting(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.playing = -1;
  }
}
