/** `tts-agent listen`: wires the stream connection to the chosen sinks, the status line and the stop conditions. */
import type { Writable } from 'node:stream';
import { samplesIn, secondsOf, type AudioFormat, type Encoding, type SampleRate } from '../shared/audio-format.ts';
import type { AudioFrame, ClockPong, Hello, ListenerMessage, Played, WireFormat } from '../shared/protocol.ts';
import { type ClockEstimate, ClockSync, formatEstimate } from './clock-sync.ts';
import { AgentError } from './agent-error.ts';
import type { Backoff } from './backoff.ts';
import { type ListenHandlers, listenToStream, type ListenState } from './listen.ts';
import type { RelayEndpoint } from './relay-endpoint.ts';
import { checkFfplay, FfplaySink } from './sinks/ffplay.ts';
import { PlayedReporter, WrittenMinusHeld } from './played-reporter.ts';
import type { AudioSink } from './sinks/sink.ts';
import { StdoutSink } from './sinks/stdout.ts';
import { WavSink } from './sinks/wav.ts';
import { ScheduledSink } from './playout/scheduled-sink.ts';
import type { PlayoutCounts } from './playout/scheduler.ts';
import type { StatusLine } from './status-line.ts';

/** The status line shows the clock estimate at most this often. */
const CLOCK_STATUS_INTERVAL_MS = 1000;
/** After the connect burst (clock-sync.ts), the estimate is worth a line in the log. */
const CLOCK_SETTLED_SAMPLES = 8;

export type PlayerChoice = 'ffplay' | 'stdout' | 'none';
export const PLAYERS: readonly PlayerChoice[] = ['ffplay', 'stdout', 'none'];

export interface ListenCommandOptions {
  stream: string;
  endpoint: RelayEndpoint;
  encoding?: Encoding;
  sampleRate?: SampleRate;
  /** Record to this WAV file. */
  out?: string;
  player: PlayerChoice;
  /** Stop, letting the audio play out, once this many utterances have ended. */
  count?: number;
  ffplayPath?: string;
  env: Record<string, string | undefined>;
  status: StatusLine;
  stdout?: Writable;
  /** Aborting stops at once: players are killed, files finalised, the socket closed. */
  signal: AbortSignal;
  backoff?: Backoff;
  /** Keep in step with the relay clock (default true): ask for presentation times and estimate the clock. */
  sync?: boolean;
  /** Called with every new clock estimate (the CLI's --json prints them). */
  onClock?(estimate: ClockEstimate): void;
  /** In step: heard this much after its presentation time (a speaker that lags gets its lag here). */
  latencyMs?: number;
  /** Gain applied to every sample (1 = as sent). */
  gain?: number;
  /** After a quiet spell: the chime's length before an utterance (ms; 0 = all of the chime). */
  prerollMs?: number;
  /** A WAV file played before an utterance that follows a quiet spell. */
  chime?: string;
  /** Called at each utterance end with the playout counts so far (in step only; the CLI's --json prints them). */
  onPlayout?(utterance: number, counts: PlayoutCounts): void;
  /** Sees every frame after the sinks did; the demo measures with it. */
  observer?: {
    onHello?(hello: Hello): void;
    onMessage?(message: Exclude<ListenerMessage, Hello>): void;
    onAudio?(frame: AudioFrame): void;
  };
}

export interface ListenSummary {
  utterances: number;
  audioBytes: number;
  audioSeconds: number;
  format: WireFormat | null;
  stoppedBy: 'count' | 'signal';
  ffplayRestarts: number;
}

export async function runListen(options: ListenCommandOptions): Promise<ListenSummary> {
  if (options.player === 'ffplay') await checkFfplay(options.ffplayPath, options.env);
  const stop = new AbortController();
  const onExternalAbort = (): void => stop.abort();
  if (options.signal.aborted) stop.abort();
  options.signal.addEventListener('abort', onExternalAbort, { once: true });
  const session = new ListenSession(options, stop);
  try {
    await listenToStream(
      {
        endpoint: options.endpoint,
        stream: options.stream,
        format: { encoding: options.encoding, sampleRate: options.sampleRate },
        signal: stop.signal,
        backoff: options.backoff,
        timing: options.sync ?? true,
      },
      session,
    );
  } catch (error) {
    session.noteFailure(error);
  } finally {
    options.signal.removeEventListener('abort', onExternalAbort);
  }
  return session.finish(options.signal.aborted);
}

/** One run of the command: the sinks, what the status line says, and the counts the summary reports. */
class ListenSession implements ListenHandlers {
  private readonly sinks: AudioSink[] = [];
  private readonly ffplay: FfplaySink | null = null;
  /** In step (the default): one scheduled sink plays and records on the relay's timeline. */
  private readonly scheduled: ScheduledSink | null = null;
  private readonly verb: string;
  private readonly status: StatusLine;
  private failure: unknown = null;
  private stoppedBy: ListenSummary['stoppedBy'] = 'signal';
  private format: AudioFormat | null = null;
  private wireFormat: WireFormat | null = null;
  private utterances = 0;
  private audioBytes = 0;
  private audioSeconds = 0;
  private current: { utterance: number; bytes: number } | null = null;
  /** Late frames of an utterance that already ended (a cancel races the audio) are dropped. */
  private ended = new Set<number>();
  /** Only a player hears: with ffplay the agent reports what it played, so the relay knows what was heard. */
  private reporter: PlayedReporter | null = null;
  private readonly clock = new ClockSync();
  private lastClockNote = 0;

  constructor(
    private readonly options: ListenCommandOptions,
    private readonly stop: AbortController,
  ) {
    this.status = options.status;
    const fail = (error: unknown): void => this.fail(error);
    if ((options.sync ?? true) && options.player !== 'stdout') {
      this.scheduled = this.scheduledSink(fail);
      this.sinks.push(this.scheduled);
    } else if (options.player === 'ffplay') {
      this.ffplay = new FfplaySink({
        path: options.ffplayPath,
        env: options.env,
        onFailure: fail,
        onRestart: (reason) => this.status.note(`ffplay restarted: ${reason}`),
      });
      this.sinks.push(this.ffplay);
    }
    if (options.player === 'stdout') this.sinks.push(new StdoutSink({ out: options.stdout, onFailure: fail }));
    if (options.out !== undefined && this.scheduled === null) this.sinks.push(new WavSink({ path: options.out, onFailure: fail }));
    this.verb = options.player === 'ffplay' ? 'playing' : options.out !== undefined ? 'recording' : 'receiving';
  }

  private scheduledSink(fail: (error: unknown) => void): ScheduledSink {
    const { options } = this;
    return new ScheduledSink({
      ffplay: options.player === 'ffplay' ? { path: options.ffplayPath ?? 'ffplay', env: options.env } : null,
      out: options.out ?? null,
      latencyMs: options.latencyMs ?? 0,
      gain: options.gain ?? 1,
      prerollMs: options.prerollMs ?? 0,
      chime: options.chime ?? null,
      offset: () => this.clock.estimate()?.offsetMs ?? null,
      onFailure: fail,
    });
  }

  /** The first failure wins; later ones add nothing. */
  noteFailure(error: unknown): void {
    this.failure ??= error;
  }

  onState(state: ListenState): void {
    if (state.kind === 'connecting') {
      this.status.state(state.attempt === 1 ? `connecting to ${state.url}` : `connecting (attempt ${state.attempt})`);
    } else if (state.kind === 'connected') {
      if (this.options.sync ?? true) this.clock.connected(state.hello, state.send);
      this.connected(state.hello);
      this.reporter?.stop();
      this.reporter = this.playedReporter(state.hello, state.send);
    } else {
      this.clock.disconnected();
      for (const sink of this.sinks) sink.disconnected();
      this.reporter?.stop();
      this.reporter = null;
      this.current = null;
      this.status.state(`reconnecting in ${(state.delayMs / 1000).toFixed(1)} s (${state.reason})`);
    }
  }

  /** Only a player hears: ffplay in step reports the heard position its scheduler knows, without sync an estimate. */
  private playedReporter(hello: Hello, send: (report: Played) => void): PlayedReporter | null {
    if (this.scheduled?.heard && this.options.player === 'ffplay') return new PlayedReporter(this.scheduled.heard, send);
    return this.ffplay ? new PlayedReporter(new WrittenMinusHeld(hello.format.sample_rate), send) : null;
  }

  onMessage(message: Exclude<ListenerMessage, Hello>): void {
    // Past the count, the agent only waits for its last utterance to be heard: what follows is not its to play.
    if (this.stoppedBy === 'count' && message.type !== 'clock_pong') return;
    if (message.type === 'timing') {
      this.scheduled?.timing(message);
    } else if (message.type === 'utterance_start') {
      this.current = { utterance: message.utterance, bytes: 0 };
      for (const sink of this.sinks) sink.utteranceStart(message);
      this.reporter?.started(message.utterance);
      this.status.state(`${this.verb} utterance ${message.utterance}`);
    } else if (message.type === 'utterance_end') {
      this.utteranceEnded(message);
    } else if (message.type === 'error') {
      this.status.note(`relay error ${message.error.code}: ${message.error.message}`);
    } else if (message.type === 'clock_pong') {
      this.clockUpdated(message);
    }
    this.options.observer?.onMessage?.(message);
  }

  onAudio(frame: AudioFrame): void {
    const format = this.format;
    if (this.ended.has(frame.utterance) || format === null || this.stoppedBy === 'count') return;
    for (const sink of this.sinks) sink.write(frame);
    this.reporter?.wrote(frame.utterance, samplesIn(format, frame.payload.byteLength));
    this.audioBytes += frame.payload.byteLength;
    this.audioSeconds += secondsOf(format, frame.payload.byteLength);
    if (this.current === null || this.current.utterance !== frame.utterance) this.current = { utterance: frame.utterance, bytes: 0 };
    this.current.bytes += frame.payload.byteLength;
    this.status.progress(`${this.verb} utterance ${frame.utterance}: ${secondsOf(format, this.current.bytes).toFixed(1)} s received${this.lateNote()}`);
    this.options.observer?.onAudio?.(frame);
  }

  onWarning(text: string): void {
    this.status.note(text);
  }

  /** Lets the audio play out after a count stop, cuts it otherwise; throws the first failure. */
  async finish(aborted: boolean): Promise<ListenSummary> {
    this.reporter?.stop();
    const graceful = this.failure === null && this.stoppedBy === 'count' && !aborted;
    const results = await Promise.allSettled(this.sinks.map((sink) => (graceful ? sink.finish() : sink.abort())));
    this.status.clear();
    for (const result of results) if (result.status === 'rejected') this.noteFailure(result.reason);
    const failure = this.failure;
    if (failure !== null) throw failure instanceof AgentError ? failure : new AgentError('output_failed', String(failure), { cause: failure });
    const { utterances, audioBytes, audioSeconds, wireFormat: format, stoppedBy } = this;
    return { utterances, audioBytes, audioSeconds, format, stoppedBy, ffplayRestarts: this.ffplay?.restarts ?? this.scheduled?.restarts ?? 0 };
  }

  /** The status line says the estimate while idle (and once a burst has settled it, in a log); --json gets each. */
  private clockUpdated(pong: ClockPong): void {
    this.clock.receive(pong);
    const estimate = this.clock.estimate();
    if (estimate === null) return;
    this.options.onClock?.(estimate);
    const now = Date.now();
    if (this.current === null && now - this.lastClockNote >= CLOCK_STATUS_INTERVAL_MS) {
      this.lastClockNote = now;
      this.status.progress(`waiting for speech; ${formatEstimate(estimate)} (${estimate.used}/${estimate.samples} exchanges)`);
    }
    if (estimate.samples === CLOCK_SETTLED_SAMPLES) this.status.state(`in step: ${formatEstimate(estimate)}`);
  }

  private fail(error: unknown): void {
    this.noteFailure(error);
    this.stop.abort();
  }

  private connected(hello: Hello): void {
    this.wireFormat = hello.format;
    const format = { encoding: hello.format.encoding, sampleRate: hello.format.sample_rate };
    this.format = format;
    this.ended = new Set();
    this.current = null;
    if (this.scheduled !== null && hello.clock === undefined) {
      throw new AgentError('relay_refused', 'this relay keeps no presentation times, so the agent cannot play in step with other rooms: pass --sync off');
    }
    for (const sink of this.sinks) sink.setFormat(hello.format);
    this.status.state(`connected to ${hello.stream} (${format.encoding}, ${format.sampleRate} Hz); ${this.playoutSettings()}waiting for speech`);
    this.options.observer?.onHello?.(hello);
  }

  /** "in step, latency 150 ms, volume -6.0 dB, chime; " for the status line ("" without sync). */
  private playoutSettings(): string {
    if (this.scheduled === null) return '';
    const { latencyMs = 0, gain = 1, chime, prerollMs = 0 } = this.options;
    const volume = gain === 1 ? '' : `, volume ${gain === 0 ? 'muted' : `${(20 * Math.log10(gain)).toFixed(1)} dB`}`;
    const extra = chime !== undefined ? `, chime${prerollMs > 0 ? ` ${prerollMs} ms` : ''}` : '';
    return `in step, latency ${latencyMs} ms${volume}${extra}; `;
  }

  /** " (late 12 ms)" once any audio came too late to be heard in step. */
  private lateNote(): string {
    const late = this.scheduled?.counts()?.late_samples ?? 0;
    return late === 0 || this.format === null ? '' : `; late ${((late / this.format.sampleRate) * 1000).toFixed(0)} ms dropped`;
  }

  private utteranceEnded(message: Extract<ListenerMessage, { type: 'utterance_end' }>): void {
    this.ended.add(message.utterance);
    for (const sink of this.sinks) sink.utteranceEnd(message);
    // ffplay is killed at a cancel only; after an error it plays out what it holds.
    this.reporter?.ended(message.utterance, message.reason === 'cancelled');
    this.utterances++;
    const counts = this.scheduled?.counts();
    if (counts) this.options.onPlayout?.(message.utterance, counts);
    const seconds = this.format === null ? 0 : message.samples / this.format.sampleRate;
    const why = message.error === undefined ? '' : ` (${message.error.code}: ${message.error.message})`;
    this.status.state(`utterance ${message.utterance} ${message.reason}${why}: ${seconds.toFixed(2)} s of audio${this.lateNote()}`);
    if (this.current?.utterance === message.utterance) this.current = null;
    if (this.options.count !== undefined && this.utterances >= this.options.count && this.stoppedBy !== 'count') {
      this.stoppedBy = 'count';
      // In step the end arrives a sync delay before its last sample is heard: the socket stays open until the
      // final played report has gone, so the relay's result counts this listener as having heard it.
      void (this.reporter?.settled() ?? Promise.resolve()).then(() => this.stop.abort());
    }
  }
}
