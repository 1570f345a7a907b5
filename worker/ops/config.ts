/** Configuration: read from the environment once at start, validated, with errors that name the variable. */
import { z } from 'zod';
import { ENCODINGS, type Encoding, SAMPLE_RATES, type SampleRate } from '../../shared/audio-format.ts';
import { encodeBase64Url } from '../../shared/base64.ts';

export interface RelayLimits {
  /** Bytes of one speak request body, counted as it streams. */
  maxSpeakBytes: number;
  /** Characters of one utterance. */
  maxUtteranceChars: number;
  /** Utterances waiting behind the current one, per stream. */
  maxQueue: number;
  maxListenersPerStream: number;
  maxStreams: number;
  /** A provider that sends nothing for this long after the text ended has failed the utterance. */
  providerTimeoutMs: number;
  /** Relay buffering: text without a sentence boundary is spoken after this pause in the input. */
  idleFlushMs: number;
  /** Audio is released to listeners at most this far ahead of real time. */
  playoutLeadMs: number;
  /** A listener whose socket holds more than this many seconds of unsent audio is dropped. */
  listenerMaxBufferedSeconds: number;
  /** A stream with no listeners and no utterances is forgotten after this long. */
  streamIdleMs: number;
  heartbeatMs: number;
  /** A WebSocket publisher is not read while this many of its characters wait unspoken (plus as many in its inbox). */
  publishMaxPendingChars: number;
  /** Largest WebSocket message accepted from a client, in bytes. */
  maxFrameBytes: number;
  /** A speak upload that delivers no byte for this long is ended with `upload_timeout` (slowloris guard). */
  uploadIdleMs: number;
  /** Open HTTP requests plus WebSockets, for the whole instance and per client address. */
  maxConnections: number;
  maxConnectionsPerIP: number;
}

/** Scoped tokens: how they are signed, how long they may live, how fast they may be used. */
export interface TokenConfig {
  /** RELAY_TOKEN_SECRET entries: the first signs, every one verifies. Empty: derived from the admin keys. */
  secrets: string[];
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  /** Requests per second (token bucket refill) and burst of a token that sets no rate of its own. */
  ratePerSecond: number;
  burst: number;
}

export interface RelayConfig {
  port: number;
  host: string;
  /** PEM certificate and key files: the relay serves HTTPS and WSS itself (the Cartesia SDK only dials wss://). */
  tls?: { certFile: string; keyFile: string };
  adminKeys: string[];
  /** True when no key was configured and one was generated for this process. */
  adminKeyGenerated: boolean;
  tokens: TokenConfig;
  /** Origins allowed by CORS; empty means CORS is off. `*` allows any. */
  corsOrigins: string[];
  provider: 'espeak' | 'cartesia';
  /** TTS_VOICE: the voice id an utterance gets when it names none, whichever the provider; checked at start. */
  voice?: string;
  cartesia: CartesiaConfig;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** On SIGTERM/SIGINT, how long utterances in flight may take to finish before they are cancelled. */
  drainMs: number;
  /** Fan-out and queues across instances: `memory` for one process, `redis` for several. */
  hub: HubConfig;
  limits: RelayLimits;
}

/** The Cartesia provider's settings; every default is in VARIABLES below. */
export interface CartesiaConfig {
  apiKey?: string;
  baseUrl?: string;
  /** Voice when a request names none; Cartesia requires one. */
  voiceId?: string;
  modelId: string;
  /** Language when a request names none (ISO 639-1, e.g. `en`). */
  language: string;
  /** What the relay asks Cartesia for: the streams' source format. */
  encoding: Encoding;
  sampleRate: SampleRate;
  /** `generation_config` defaults (sonic-3 and newer). */
  generation: { speed?: number; volume?: number; emotion?: string };
  /** `max_buffer_delay_ms` for streams that choose provider buffering; relay buffering always sends 0. */
  maxBufferDelayMs: number;
  /** PEM file of extra CAs to trust, for a self-hosted or test endpoint. */
  caFile?: string;
  poolSize: number;
  contextsPerSocket: number;
  recycleIdleMs: number;
  contextTimeoutMs: number;
  connectTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxWaitMs: number;
  rateLimitCooldownMs: number;
}

export interface HubConfig {
  kind: 'memory' | 'redis';
  redisUrl?: string;
  /** Prefix of every Redis key and channel, so deployments can share a Redis. */
  redisKeyPrefix: string;
  /** A stream's owner that stops renewing its lease for this long is replaced by another instance. */
  leaseMs: number;
  /** Seconds of the current utterance kept per stream for listeners joining with `?from=utterance`. */
  replaySeconds: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const VARIABLES = {
  PORT: int(0, 65535).default(8787),
  HOST: z.string().min(1).default('0.0.0.0'),
  RELAY_ADMIN_KEY: z.string().optional(),
  TTS_PROVIDER: z.enum(['cartesia', 'espeak']).optional(),
  TTS_VOICE: z.string().min(1).max(128).optional(),
  CARTESIA_API_KEY: z.string().min(1).optional(),
  CARTESIA_BASE_URL: z.url().optional(),
  CARTESIA_VOICE_ID: z.string().min(1).optional(),
  CARTESIA_MODEL_ID: z.string().min(1).default('sonic-3.5'),
  CARTESIA_LANGUAGE: z.string().regex(/^[a-z]{2,3}$/, 'an ISO 639-1 code such as en').default('en'),
  CARTESIA_ENCODING: z.enum(ENCODINGS).default('pcm_f32le'),
  CARTESIA_SAMPLE_RATE: z.coerce.number().pipe(z.union(SAMPLE_RATES.map((rate) => z.literal(rate)) as [z.ZodLiteral<SampleRate>, ...z.ZodLiteral<SampleRate>[]])).default(44100),
  CARTESIA_SPEED: z.coerce.number().min(0.6).max(1.5).optional(),
  CARTESIA_VOLUME: z.coerce.number().min(0.5).max(2).optional(),
  CARTESIA_EMOTION: z.string().min(1).optional(),
  CARTESIA_MAX_BUFFER_DELAY_MS: int(0, 5000).default(3000),
  CARTESIA_CA_FILE: z.string().min(1).optional(),
  CARTESIA_POOL_SIZE: int(1, 16).default(2),
  CARTESIA_CONTEXTS_PER_SOCKET: int(1, 1000).default(16),
  // Cartesia closes a socket idle for 5 minutes; replace ours a minute earlier.
  CARTESIA_RECYCLE_IDLE_MS: int(50, 299_000).default(240_000),
  CARTESIA_CONTEXT_TIMEOUT_MS: int(50, 600_000).default(10_000),
  CARTESIA_CONNECT_TIMEOUT_MS: int(50, 120_000).default(10_000),
  CARTESIA_BACKOFF_BASE_MS: int(1, 60_000).default(250),
  CARTESIA_BACKOFF_MAX_MS: int(1, 600_000).default(30_000),
  CARTESIA_MAX_WAIT_MS: int(0, 60_000).default(10_000),
  CARTESIA_RATE_LIMIT_COOLDOWN_MS: int(0, 600_000).default(1000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  RELAY_MAX_SPEAK_BYTES: int(1, 1 << 30).default(1 << 20),
  RELAY_MAX_UTTERANCE_CHARS: int(1, 10_000_000).default(20_000),
  RELAY_MAX_QUEUE: int(1, 100_000).default(32),
  RELAY_MAX_LISTENERS_PER_STREAM: int(1, 1_000_000).default(1000),
  RELAY_MAX_STREAMS: int(1, 1_000_000).default(1000),
  RELAY_PROVIDER_TIMEOUT_MS: int(100, 600_000).default(20_000),
  RELAY_IDLE_FLUSH_MS: int(10, 60_000).default(500),
  RELAY_PLAYOUT_LEAD_MS: int(0, 3_600_000).default(1500),
  RELAY_LISTENER_MAX_BUFFERED_SECONDS: int(1, 3600).default(30),
  RELAY_STREAM_IDLE_MS: int(1000, 86_400_000).default(600_000),
  RELAY_HEARTBEAT_MS: int(100, 600_000).default(15_000),
  // About a minute of speech: enough that an LLM publisher never waits on the relay, little audio held per publisher.
  RELAY_PUBLISH_MAX_PENDING_CHARS: int(1, 1_000_000).default(1000),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  RELAY_MAX_FRAME_BYTES: int(1024, 16 << 20).default(64 << 10),
  RELAY_UPLOAD_IDLE_MS: int(100, 3_600_000).default(30_000),
  RELAY_MAX_CONNECTIONS: int(1, 1_000_000).default(10_000),
  RELAY_MAX_CONNECTIONS_PER_IP: int(1, 1_000_000).default(256),
  RELAY_TOKEN_SECRET: z.string().optional(),
  RELAY_TOKEN_TTL_S: int(1, 31_536_000).default(900),
  RELAY_TOKEN_MAX_TTL_S: int(1, 31_536_000).default(86_400),
  RELAY_TOKEN_RATE: int(1, 100_000).default(10),
  RELAY_TOKEN_BURST: int(1, 100_000).default(20),
  RELAY_CORS_ORIGINS: z.string().optional(),
  // Below Kubernetes' default 30 s grace period, with room for the closing handshakes.
  RELAY_DRAIN_MS: int(0, 3_600_000).default(10_000),
  HUB: z.enum(['memory', 'redis']).optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9._:-]{0,64}$/, 'letters, digits and . _ : -').default('tts-relay:'),
  RELAY_LEASE_MS: int(300, 600_000).default(5000),
  RELAY_REPLAY_SECONDS: int(0, 3600).default(30),
} as const;

type Variable = keyof typeof VARIABLES;
type Values = { [K in Variable]: z.output<(typeof VARIABLES)[K]> };

/** Reads and validates every variable; throws a ConfigError naming the first bad one. */
export function loadConfig(env: Record<string, string | undefined>, generateKey: () => string): RelayConfig {
  const values = {} as Record<string, unknown>;
  for (const [name, schema] of Object.entries(VARIABLES)) {
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) throw new ConfigError(name, `invalid value ${JSON.stringify(raw)} (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    values[name] = parsed.data;
  }
  const v = values as Values;
  const provider = v.TTS_PROVIDER ?? (v.CARTESIA_API_KEY ? 'cartesia' : 'espeak');
  const hub = v.HUB ?? (v.REDIS_URL ? 'redis' : 'memory');
  if (hub === 'redis' && !v.REDIS_URL) throw new ConfigError('REDIS_URL', 'required when HUB=redis (e.g. redis://127.0.0.1:6379)');
  if (provider === 'cartesia' && !v.CARTESIA_API_KEY) {
    throw new ConfigError('CARTESIA_API_KEY', 'required when TTS_PROVIDER=cartesia');
  }
  const adminKeys = (v.RELAY_ADMIN_KEY ?? '').split(',').map((key) => key.trim()).filter(Boolean);
  const short = adminKeys.find((key) => key.length < 16);
  if (short !== undefined) throw new ConfigError('RELAY_ADMIN_KEY', 'each key must be at least 16 characters');
  const adminKeyGenerated = adminKeys.length === 0;
  if (adminKeyGenerated) adminKeys.push(generateKey());
  const tokenSecrets = list(v.RELAY_TOKEN_SECRET);
  // HS256 keys shorter than the hash add nothing but guessability.
  if (tokenSecrets.some((secret) => secret.length < 32)) throw new ConfigError('RELAY_TOKEN_SECRET', 'each secret must be at least 32 characters');
  if (v.RELAY_TOKEN_TTL_S > v.RELAY_TOKEN_MAX_TTL_S) throw new ConfigError('RELAY_TOKEN_TTL_S', `must not exceed RELAY_TOKEN_MAX_TTL_S (${v.RELAY_TOKEN_MAX_TTL_S})`);
  const corsOrigins = list(v.RELAY_CORS_ORIGINS);
  const badOrigin = corsOrigins.find((origin) => origin !== '*' && !/^https?:\/\/[^/]+$/.test(origin));
  if (badOrigin !== undefined) throw new ConfigError('RELAY_CORS_ORIGINS', `"${badOrigin}" is not an origin such as https://app.example.com (or *)`);

  if (Boolean(v.TLS_CERT_FILE) !== Boolean(v.TLS_KEY_FILE)) {
    throw new ConfigError(v.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE', 'TLS needs both TLS_CERT_FILE and TLS_KEY_FILE');
  }

  return {
    port: v.PORT,
    host: v.HOST,
    ...(v.TLS_CERT_FILE && v.TLS_KEY_FILE ? { tls: { certFile: v.TLS_CERT_FILE, keyFile: v.TLS_KEY_FILE } } : {}),
    adminKeys,
    adminKeyGenerated,
    tokens: {
      secrets: tokenSecrets,
      defaultTtlSeconds: v.RELAY_TOKEN_TTL_S,
      maxTtlSeconds: v.RELAY_TOKEN_MAX_TTL_S,
      ratePerSecond: v.RELAY_TOKEN_RATE,
      burst: v.RELAY_TOKEN_BURST,
    },
    corsOrigins,
    provider,
    ...(v.TTS_VOICE ? { voice: v.TTS_VOICE } : {}),
    cartesia: {
      ...(v.CARTESIA_API_KEY ? { apiKey: v.CARTESIA_API_KEY } : {}),
      ...(v.CARTESIA_BASE_URL ? { baseUrl: v.CARTESIA_BASE_URL } : {}),
      // TTS_VOICE names the default voice for any provider; CARTESIA_VOICE_ID is its older, Cartesia-only name.
      ...(v.TTS_VOICE || v.CARTESIA_VOICE_ID ? { voiceId: (v.TTS_VOICE ?? v.CARTESIA_VOICE_ID)! } : {}),
      modelId: v.CARTESIA_MODEL_ID,
      language: v.CARTESIA_LANGUAGE,
      encoding: v.CARTESIA_ENCODING,
      sampleRate: v.CARTESIA_SAMPLE_RATE,
      generation: {
        ...(v.CARTESIA_SPEED !== undefined ? { speed: v.CARTESIA_SPEED } : {}),
        ...(v.CARTESIA_VOLUME !== undefined ? { volume: v.CARTESIA_VOLUME } : {}),
        ...(v.CARTESIA_EMOTION !== undefined ? { emotion: v.CARTESIA_EMOTION } : {}),
      },
      maxBufferDelayMs: v.CARTESIA_MAX_BUFFER_DELAY_MS,
      ...(v.CARTESIA_CA_FILE ? { caFile: v.CARTESIA_CA_FILE } : {}),
      poolSize: v.CARTESIA_POOL_SIZE,
      contextsPerSocket: v.CARTESIA_CONTEXTS_PER_SOCKET,
      recycleIdleMs: v.CARTESIA_RECYCLE_IDLE_MS,
      contextTimeoutMs: v.CARTESIA_CONTEXT_TIMEOUT_MS,
      connectTimeoutMs: v.CARTESIA_CONNECT_TIMEOUT_MS,
      backoffBaseMs: v.CARTESIA_BACKOFF_BASE_MS,
      backoffMaxMs: v.CARTESIA_BACKOFF_MAX_MS,
      maxWaitMs: v.CARTESIA_MAX_WAIT_MS,
      rateLimitCooldownMs: v.CARTESIA_RATE_LIMIT_COOLDOWN_MS,
    },
    logLevel: v.LOG_LEVEL,
    drainMs: v.RELAY_DRAIN_MS,
    hub: {
      kind: hub,
      ...(v.REDIS_URL ? { redisUrl: v.REDIS_URL } : {}),
      redisKeyPrefix: v.REDIS_KEY_PREFIX,
      leaseMs: v.RELAY_LEASE_MS,
      replaySeconds: v.RELAY_REPLAY_SECONDS,
    },
    limits: {
      maxSpeakBytes: v.RELAY_MAX_SPEAK_BYTES,
      maxUtteranceChars: v.RELAY_MAX_UTTERANCE_CHARS,
      maxQueue: v.RELAY_MAX_QUEUE,
      maxListenersPerStream: v.RELAY_MAX_LISTENERS_PER_STREAM,
      maxStreams: v.RELAY_MAX_STREAMS,
      providerTimeoutMs: v.RELAY_PROVIDER_TIMEOUT_MS,
      idleFlushMs: v.RELAY_IDLE_FLUSH_MS,
      playoutLeadMs: v.RELAY_PLAYOUT_LEAD_MS,
      listenerMaxBufferedSeconds: v.RELAY_LISTENER_MAX_BUFFERED_SECONDS,
      streamIdleMs: v.RELAY_STREAM_IDLE_MS,
      heartbeatMs: v.RELAY_HEARTBEAT_MS,
      publishMaxPendingChars: v.RELAY_PUBLISH_MAX_PENDING_CHARS,
      maxFrameBytes: v.RELAY_MAX_FRAME_BYTES,
      uploadIdleMs: v.RELAY_UPLOAD_IDLE_MS,
      maxConnections: v.RELAY_MAX_CONNECTIONS,
      maxConnectionsPerIP: v.RELAY_MAX_CONNECTIONS_PER_IP,
    },
  };
}

/** A comma-separated variable as its trimmed, non-empty entries. */
function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
}

/** 32 random bytes, base64url: an admin key for a process started without one. */
export function generateSecret(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}
