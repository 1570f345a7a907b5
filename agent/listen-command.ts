/** `tts-agent listen`: wires the stream connection to the chosen sinks, the status line and the stop conditions. */
import type { Writable } from 'node:stream';
import { secondsOf, type AudioFormat, type Encoding, type SampleRate } from '../shared/audio-format.ts';
import type { AudioFrame, Hello, ListenerMessage, WireFormat } from '../shared/protocol.ts';
import { AgentError } from './agent-error.ts';
import type { Backoff } from './backoff.ts';
import { listenToStream, type ListenState } from './listen.ts';
import type { RelayEndpoint } from './relay-endpoint.ts';
import { checkFfplay, FfplaySink } from './sinks/ffplay.ts';
import type { AudioSink } from './sinks/sink.ts';
import { StdoutSink } from './sinks/stdout.ts';
import { WavSink } from './sinks/wav.ts';
import type { StatusLine } from './status-line.ts';

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
  const { status } = options;
  if (options.player === 'ffplay') await checkFfplay(options.ffplayPath, options.env);

  const stop = new AbortController();
  let failure: unknown = null;
  let stoppedBy = 'signal' as ListenSummary['stoppedBy'];
  const fail = (error: unknown): void => {
    failure ??= error;
    stop.abort();
  };
  const onExternalAbort = (): void => stop.abort();
  if (options.signal.aborted) stop.abort();
  options.signal.addEventListener('abort', onExternalAbort, { once: true });

  const sinks: AudioSink[] = [];
  let ffplay: FfplaySink | null = null;
  if (options.player === 'ffplay') {
    ffplay = new FfplaySink({
      path: options.ffplayPath,
      env: options.env,
      onFailure: fail,
      onRestart: (reason) => status.note(`ffplay restarted: ${reason}`),
    });
    sinks.push(ffplay);
  }
  if (options.player === 'stdout') sinks.push(new StdoutSink({ out: options.stdout, onFailure: fail }));
  if (options.out !== undefined) sinks.push(new WavSink({ path: options.out, onFailure: fail }));
  const verb = options.player === 'ffplay' ? 'playing' : options.out !== undefined ? 'recording' : 'receiving';

  let format: AudioFormat | null = null;
  let wireFormat: WireFormat | null = null;
  let utterances = 0;
  let audioBytes = 0;
  let audioSeconds = 0;
  let current: { utterance: number; bytes: number } | null = null;
  /** Late frames of an utterance that already ended (a cancel races the audio) are dropped. */
  let ended = new Set<number>();

  const onState = (state: ListenState): void => {
    if (state.kind === 'connecting') {
      status.state(state.attempt === 1 ? `connecting to ${state.url}` : `connecting (attempt ${state.attempt})`);
    } else if (state.kind === 'connected') {
      wireFormat = state.hello.format;
      format = { encoding: wireFormat.encoding, sampleRate: wireFormat.sample_rate };
      ended = new Set();
      current = null;
      for (const sink of sinks) sink.setFormat(state.hello.format);
      status.state(`connected to ${state.hello.stream} (${format.encoding}, ${format.sampleRate} Hz); waiting for speech`);
      options.observer?.onHello?.(state.hello);
    } else {
      for (const sink of sinks) sink.disconnected();
      current = null;
      status.state(`reconnecting in ${(state.delayMs / 1000).toFixed(1)} s (${state.reason})`);
    }
  };

  const onMessage = (message: Exclude<ListenerMessage, Hello>): void => {
    if (message.type === 'utterance_start') {
      current = { utterance: message.utterance, bytes: 0 };
      for (const sink of sinks) sink.utteranceStart(message);
      status.state(`${verb} utterance ${message.utterance}`);
    } else if (message.type === 'utterance_end') {
      ended.add(message.utterance);
      for (const sink of sinks) sink.utteranceEnd(message);
      utterances++;
      const seconds = format === null ? 0 : message.samples / format.sampleRate;
      const why = message.error === undefined ? '' : ` (${message.error.code}: ${message.error.message})`;
      status.state(`utterance ${message.utterance} ${message.reason}${why}: ${seconds.toFixed(2)} s of audio`);
      if (current?.utterance === message.utterance) current = null;
      if (options.count !== undefined && utterances >= options.count) {
        stoppedBy = 'count';
        stop.abort();
      }
    } else if (message.type === 'error') {
      status.note(`relay error ${message.error.code}: ${message.error.message}`);
    }
    options.observer?.onMessage?.(message);
  };

  const onAudio = (frame: AudioFrame): void => {
    if (ended.has(frame.utterance) || format === null) return;
    for (const sink of sinks) sink.write(frame);
    audioBytes += frame.payload.byteLength;
    audioSeconds += secondsOf(format, frame.payload.byteLength);
    if (current === null || current.utterance !== frame.utterance) current = { utterance: frame.utterance, bytes: 0 };
    current.bytes += frame.payload.byteLength;
    status.progress(`${verb} utterance ${frame.utterance}: ${secondsOf(format, current.bytes).toFixed(1)} s received`);
    options.observer?.onAudio?.(frame);
  };

  try {
    await listenToStream(
      {
        endpoint: options.endpoint,
        stream: options.stream,
        format: { encoding: options.encoding, sampleRate: options.sampleRate },
        signal: stop.signal,
        backoff: options.backoff,
      },
      { onState, onMessage, onAudio, onWarning: (text) => status.note(text) },
    );
  } catch (error) {
    failure ??= error;
  } finally {
    options.signal.removeEventListener('abort', onExternalAbort);
  }

  const graceful = failure === null && stoppedBy === 'count' && !options.signal.aborted;
  const results = await Promise.allSettled(sinks.map((sink) => (graceful ? sink.finish() : sink.abort())));
  status.clear();
  for (const result of results) if (result.status === 'rejected') failure ??= result.reason;
  if (failure !== null) throw failure instanceof AgentError ? failure : new AgentError('output_failed', String(failure), { cause: failure });
  return { utterances, audioBytes, audioSeconds, format: wireFormat, stoppedBy, ffplayRestarts: ffplay?.restarts ?? 0 };
}
