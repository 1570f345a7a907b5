/** The emulator's public types: its options, the faults a test injects, and the handle it returns. */
import type { IncomingMessage } from 'node:http';

export interface EmulatorFaults {
  /** Refuse the next `times` upgrades with `status` (and a Retry-After header when given). */
  rejectUpgrades?: { status: number; times: number; retryAfterSeconds?: number };
  /** The next context: cut its socket (no close frame) after this many chunks. */
  dropAfterChunks?: number;
  /** The next context: cut its socket (no close frame) right after its first `flush_done`. */
  dropAfterFlush?: boolean;
  /** The next `times` contexts: each cuts its socket after `afterChunks` chunks. */
  dropContexts?: { afterChunks: number; times: number };
  /** The next context: its socket stops sending anything after this many chunks, and keeps reading. */
  stallAfterChunks?: number;
  /** The next context: an error frame after this many chunks (0: before any audio), and nothing more for it. */
  errorAfterChunks?: { chunks: number; status_code: number; title: string; message: string; error_code: string | null };
  /** The next context: garbage frames (not JSON, unknown types, malformed chunks, binary) before each of its first n chunks. */
  garbageBeforeChunks?: number;
  /** Every chunk: this much extra delay before it (slow generation). */
  chunkDelayMs?: number;
}

export interface EmulatorOptions {
  port?: number;
  host?: string;
  /** Keys accepted as `Authorization: Bearer`, `X-API-Key` or `?api_key=`. */
  apiKeys?: string[];
  /** Tokens accepted as `?access_token=` (or Bearer). */
  accessTokens?: string[];
  /** Model latency: delay before a generation's first chunk. */
  firstChunkDelayMs?: number;
  /** Pause between chunks of one generation. */
  chunkIntervalMs?: number;
  /** Audio duration of one chunk. */
  chunkMs?: number;
  /** Cartesia closes a socket that received nothing for 5 minutes. */
  idleCloseMs?: number;
  /** Chunks already generated that still go out after a cancel (Cartesia cannot recall them). */
  lateChunksAfterCancel?: number;
  faults?: EmulatorFaults;
  /** false: a model without word timestamps (`add_timestamps` accepted, none sent). */
  wordTimestamps?: boolean;
  /** What `GET /voices` lists, in pages of its `limit` (Cartesia's cursor paging). */
  voices?: EmulatedVoice[];
  /**
   * Speak the embedded engine's warm-up sentences before serving. The bench sets it: a cold espeak-ng (wasm2js) takes
   * 50× longer a sentence, and whichever side of a comparison came first paid for it.
   */
  warmUp?: boolean;
}

export interface EmulatedVoice {
  id: string;
  name: string;
  language: string;
}

export interface UpgradeRecord {
  /** performance.now() when the upgrade arrived. */
  at: number;
  url: string;
  headers: IncomingMessage['headers'];
  status: number;
  auth: 'bearer' | 'x-api-key' | 'api_key' | 'access_token' | null;
  version: string | null;
}

export interface RequestRecord {
  connection: number;
  raw: string;
  json: unknown;
}

export interface EmulatorStats {
  upgrades: UpgradeRecord[];
  /** Sockets accepted. */
  connections: number;
  open: number;
  /** Contexts started. */
  contexts: number;
  requests: RequestRecord[];
  /** Frames sent, by type (chunks included). */
  sent: Record<string, number>;
  errors: Array<Record<string, unknown>>;
  closes: Array<{ connection: number; code: number; reason: string; by: 'client' | 'server' }>;
}

export interface CartesiaEmulator {
  /** `https://127.0.0.1:port`: the base URL for the SDK (which dials `wss://…/tts/websocket` itself). */
  url: string;
  wssUrl: string;
  port: number;
  /** PEM of the test certificate, and its file, to trust it. */
  ca: string;
  caFile: string;
  stats: EmulatorStats;
  faults: EmulatorFaults;
  setFaults(faults: EmulatorFaults): void;
  /** Cuts every open socket without a close frame. */
  dropConnections(): void;
  /** Changes how long a socket may stay idle before the emulator closes it. */
  setIdleClose(ms: number): void;
  /** Client requests (parsed JSON objects) in arrival order. */
  requestsOf(contextId?: string): Array<Record<string, unknown>>;
  close(): Promise<void>;
}
