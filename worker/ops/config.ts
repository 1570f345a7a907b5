/** Configuration: read from the environment once at start, validated, with errors that name the variable. */
import { type ConfiguredApiKey, parseApiKeyList } from '../security/api-keys.ts';
import type { Encoding, SampleRate } from '../../shared/audio-format.ts';
import { encodeBase64Url } from '../../shared/base64.ts';
import { ConfigError } from './config-error.ts';
import { readVariables, type Values } from './config-variables.ts';

export { ConfigError } from './config-error.ts';

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
  /** Presentation time of a sample = its place on the stream's playout timeline + this (listener protocol `at`). */
  syncDelayMs: number;
  /** After an utterance's audio should have played (or after a cut), how long its `heard` waits for listeners' last reports. */
  heardWaitMs: number;
  /** A listener whose socket holds more than this many seconds of unsent audio is dropped. */
  listenerMaxBufferedSeconds: number;
  /** What all listeners of the instance may hold unsent together, in bytes; past it the fullest are dropped. */
  listenerBufferBudgetBytes: number;
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
  /** Contexts one Cartesia-compatible connection may have generating at once (past it: 429). */
  compatMaxContexts: number;
  /** An open Cartesia-compatible context with no input for this long ends as if `continue: false` came. */
  compatContextIdleMs: number;
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
  /** RELAY_API_KEYS: long-lived scoped keys for URLs (digested at start, never logged). */
  apiKeys: ConfiguredApiKey[];
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

/** The Cartesia provider's settings; every default is in config-variables.ts. */
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

/** Reads and validates every variable; throws a ConfigError naming the first bad one. */
export function loadConfig(env: Record<string, string | undefined>, generateKey: () => string): RelayConfig {
  const v = readVariables(env);
  // Checked in this order, so the first bad variable is the one named.
  const hub = hubConfig(v);
  const provider = v.TTS_PROVIDER ?? (v.CARTESIA_API_KEY ? 'cartesia' : 'espeak');
  if (provider === 'cartesia' && !v.CARTESIA_API_KEY) throw new ConfigError('CARTESIA_API_KEY', 'required when TTS_PROVIDER=cartesia');
  const adminKeys = adminKeysOf(v);
  const adminKeyGenerated = adminKeys.length === 0;
  if (adminKeyGenerated) adminKeys.push(generateKey());
  const tokens = tokenConfig(v);
  const apiKeys = parseApiKeyList(v.RELAY_API_KEYS);
  if (apiKeys.some(({ key }) => adminKeys.includes(key))) throw new ConfigError('RELAY_API_KEYS', 'an API key must not be an admin key');
  const corsOrigins = corsOriginsOf(v);
  const tls = tlsOf(v);
  return {
    port: v.PORT,
    host: v.HOST,
    ...(tls ? { tls } : {}),
    adminKeys,
    adminKeyGenerated,
    tokens,
    apiKeys,
    corsOrigins,
    provider,
    ...(v.TTS_VOICE ? { voice: v.TTS_VOICE } : {}),
    cartesia: cartesiaConfig(v),
    logLevel: v.LOG_LEVEL,
    drainMs: v.RELAY_DRAIN_MS,
    hub,
    limits: limitsOf(v),
  };
}

function hubConfig(v: Values): HubConfig {
  const kind = v.HUB ?? (v.REDIS_URL ? 'redis' : 'memory');
  if (kind === 'redis' && !v.REDIS_URL) throw new ConfigError('REDIS_URL', 'required when HUB=redis (e.g. redis://127.0.0.1:6379)');
  return {
    kind,
    ...(v.REDIS_URL ? { redisUrl: v.REDIS_URL } : {}),
    redisKeyPrefix: v.REDIS_KEY_PREFIX,
    leaseMs: v.RELAY_LEASE_MS,
    replaySeconds: v.RELAY_REPLAY_SECONDS,
  };
}

function adminKeysOf(v: Values): string[] {
  const adminKeys = list(v.RELAY_ADMIN_KEY);
  if (adminKeys.some((key) => key.length < 16)) throw new ConfigError('RELAY_ADMIN_KEY', 'each key must be at least 16 characters');
  return adminKeys;
}

function tokenConfig(v: Values): TokenConfig {
  const secrets = list(v.RELAY_TOKEN_SECRET);
  // HS256 keys shorter than the hash add nothing but guessability.
  if (secrets.some((secret) => secret.length < 32)) throw new ConfigError('RELAY_TOKEN_SECRET', 'each secret must be at least 32 characters');
  if (v.RELAY_TOKEN_TTL_S > v.RELAY_TOKEN_MAX_TTL_S) throw new ConfigError('RELAY_TOKEN_TTL_S', `must not exceed RELAY_TOKEN_MAX_TTL_S (${v.RELAY_TOKEN_MAX_TTL_S})`);
  return {
    secrets,
    defaultTtlSeconds: v.RELAY_TOKEN_TTL_S,
    maxTtlSeconds: v.RELAY_TOKEN_MAX_TTL_S,
    ratePerSecond: v.RELAY_TOKEN_RATE,
    burst: v.RELAY_TOKEN_BURST,
  };
}

function corsOriginsOf(v: Values): string[] {
  const origins = list(v.RELAY_CORS_ORIGINS);
  const bad = origins.find((origin) => origin !== '*' && !/^https?:\/\/[^/]+$/.test(origin));
  if (bad !== undefined) throw new ConfigError('RELAY_CORS_ORIGINS', `"${bad}" is not an origin such as https://app.example.com (or *)`);
  return origins;
}

function tlsOf(v: Values): RelayConfig['tls'] {
  if (Boolean(v.TLS_CERT_FILE) !== Boolean(v.TLS_KEY_FILE)) {
    throw new ConfigError(v.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE', 'TLS needs both TLS_CERT_FILE and TLS_KEY_FILE');
  }
  return v.TLS_CERT_FILE && v.TLS_KEY_FILE ? { certFile: v.TLS_CERT_FILE, keyFile: v.TLS_KEY_FILE } : undefined;
}

function cartesiaConfig(v: Values): CartesiaConfig {
  return {
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
  };
}

function limitsOf(v: Values): RelayLimits {
  return {
    maxSpeakBytes: v.RELAY_MAX_SPEAK_BYTES,
    maxUtteranceChars: v.RELAY_MAX_UTTERANCE_CHARS,
    maxQueue: v.RELAY_MAX_QUEUE,
    maxListenersPerStream: v.RELAY_MAX_LISTENERS_PER_STREAM,
    maxStreams: v.RELAY_MAX_STREAMS,
    providerTimeoutMs: v.RELAY_PROVIDER_TIMEOUT_MS,
    idleFlushMs: v.RELAY_IDLE_FLUSH_MS,
    playoutLeadMs: v.RELAY_PLAYOUT_LEAD_MS,
    syncDelayMs: v.RELAY_SYNC_DELAY_MS,
    heardWaitMs: v.RELAY_HEARD_WAIT_MS,
    listenerMaxBufferedSeconds: v.RELAY_LISTENER_MAX_BUFFERED_SECONDS,
    listenerBufferBudgetBytes: v.RELAY_LISTENER_BUFFER_BUDGET_MB * 1024 * 1024,
    streamIdleMs: v.RELAY_STREAM_IDLE_MS,
    heartbeatMs: v.RELAY_HEARTBEAT_MS,
    publishMaxPendingChars: v.RELAY_PUBLISH_MAX_PENDING_CHARS,
    maxFrameBytes: v.RELAY_MAX_FRAME_BYTES,
    uploadIdleMs: v.RELAY_UPLOAD_IDLE_MS,
    maxConnections: v.RELAY_MAX_CONNECTIONS,
    maxConnectionsPerIP: v.RELAY_MAX_CONNECTIONS_PER_IP,
    compatMaxContexts: v.RELAY_COMPAT_MAX_CONTEXTS,
    compatContextIdleMs: v.RELAY_COMPAT_CONTEXT_IDLE_MS,
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
