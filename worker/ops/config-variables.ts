/** The environment variables the relay reads, each with its type, range and default. */
import { z } from 'zod';
import { ENCODINGS, SAMPLE_RATES, type SampleRate } from '../../shared/audio-format.ts';
import { ConfigError } from './config-error.ts';

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
  // Cartesia allows 10 sockets per unit of concurrency (20 on the smallest plan); sockets add no concurrency.
  CARTESIA_POOL_SIZE: int(1, 16).default(4),
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
  // A jittery home link (150 ± 40 ms) plus the agent's own 40-60 ms output queue, with room to spare; Snapcast's floor is 400.
  RELAY_SYNC_DELAY_MS: int(0, 10_000).default(250),
  RELAY_HEARD_WAIT_MS: int(0, 60_000).default(1500),
  RELAY_LISTENER_MAX_BUFFERED_SECONDS: int(1, 3600).default(30),
  RELAY_LISTENER_BUFFER_BUDGET_MB: int(1, 1_000_000).default(1024),
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
  RELAY_COMPAT_MAX_CONTEXTS: int(1, 1000).default(32),
  RELAY_COMPAT_CONTEXT_IDLE_MS: int(100, 600_000).default(5000),
  RELAY_TOKEN_SECRET: z.string().optional(),
  RELAY_API_KEYS: z.string().optional(),
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
/** Every variable, parsed, with its default where unset. */
export type Values = { [K in Variable]: z.output<(typeof VARIABLES)[K]> };

/** Reads and validates every variable (an empty value counts as unset); throws a ConfigError naming the first bad one. */
export function readVariables(env: Record<string, string | undefined>): Values {
  const values = {} as Record<string, unknown>;
  for (const [name, schema] of Object.entries(VARIABLES)) {
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) throw new ConfigError(name, `invalid value ${JSON.stringify(raw)} (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    values[name] = parsed.data;
  }
  return values as Values;
}
