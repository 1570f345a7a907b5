/** What one running emulator holds: its settings, counters and faults, its sockets and their contexts. */
import { WebSocket } from 'ws';
import type { AudioFormat, Encoding, SampleRate } from '../../../shared/audio-format.ts';
import type { EspeakEngine } from '../../../worker/providers/espeak/engine.ts';
import type { EmulatedVoice, EmulatorFaults, EmulatorStats } from './types.ts';
import { fixedFields } from './validation.ts';

// espeak-ng voices for the emulated languages; anything else speaks English.
const ESPEAK_VOICES: Record<string, string> = { en: 'en-us', fr: 'fr', de: 'de', es: 'es', it: 'it', pt: 'pt', nl: 'nl', pl: 'pl', sv: 'sv' };

export const SOCKET_OPEN = WebSocket.OPEN;

export interface EmulatorSettings {
  apiKeys: Set<string>;
  tokens: Set<string>;
  firstChunkDelayMs: number;
  chunkIntervalMs: number;
  chunkMs: number;
  /** Changed by `setIdleClose`. */
  idleCloseMs: number;
  lateChunksAfterCancel: number;
  /** false: no word timestamps are sent, whatever the request asks. */
  wordTimestamps: boolean;
  voices: EmulatedVoice[];
}

export interface EmulatorState {
  settings: EmulatorSettings;
  engine: EspeakEngine;
  /** The faults still to be claimed; `setFaults` adds to them. */
  faults: EmulatorFaults;
  stats: EmulatorStats;
  connections: Set<Connection>;
  ids: { connection: number; request: number };
}

/** The faults one context claimed when it started (the rest of EmulatorFaults apply to all). */
export interface ContextFaults {
  dropAfterChunks?: number;
  dropAfterFlush?: boolean;
  stallAfterChunks?: number;
  errorAfterChunks?: EmulatorFaults['errorAfterChunks'];
  garbageBeforeChunks?: number;
}

/** A unit of a context's work, done in order. */
export type Item = { kind: 'speak'; text: string } | { kind: 'flush' } | { kind: 'done' };

export class EmulatedContext {
  fixed: string;
  format: AudioFormat;
  words: boolean;
  phonemes: boolean;
  bufferDelayMs: number;
  voice: string;
  pending = '';
  bufferTimer: ReturnType<typeof setTimeout> | null = null;
  work: Promise<void> = Promise.resolve();
  flushId = 1;
  /** Seconds of audio sent so far: timestamps are relative to the context's first sample. */
  seconds = 0;
  chunks = 0;
  inputClosed = false;
  finished = false;
  cancelled = false;
  lateChunks = 0;

  constructor(
    readonly id: string,
    request: Record<string, unknown>,
    readonly faults: ContextFaults,
  ) {
    this.fixed = fixedFields(request);
    const format = request.output_format as { encoding: Encoding; sample_rate: SampleRate };
    this.format = { encoding: format.encoding, sampleRate: format.sample_rate };
    this.words = request.add_timestamps === true;
    this.phonemes = request.add_phoneme_timestamps === true;
    // Documented default: 3000 ms of buffering when the field is absent.
    this.bufferDelayMs = typeof request.max_buffer_delay_ms === 'number' ? request.max_buffer_delay_ms : 3000;
    this.voice = ESPEAK_VOICES[typeof request.language === 'string' ? request.language : 'en'] ?? 'en-us';
  }
}

export class Connection {
  readonly contexts = new Map<string, EmulatedContext>();
  /** Ids of finished contexts; a request on one is refused as on a closed context. */
  readonly closedContexts = new Set<string>();
  stalled = false;
  idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly id: number,
    readonly socket: WebSocket,
    readonly version: string,
  ) {}
}

/** Ends a context: no more input or output for it, and a later request on it is refused as on a closed one. */
export function closeContext(connection: Connection, context: EmulatedContext): void {
  context.cancelled = true;
  if (context.bufferTimer) clearTimeout(context.bufferTimer);
  connection.contexts.delete(context.id);
  connection.closedContexts.add(context.id);
}

export function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
