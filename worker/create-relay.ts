/** Builds a relay from configuration: picks the provider and broker once, then the app over them. */
import { API_KEY_PATTERN } from './security/api-keys.ts';
import type { Hono } from 'hono';
import { bytesPerSecond } from '../shared/audio-format.ts';
import { createApp } from './app.ts';
import type { RuntimeAdapter } from './runtime/contract.ts';
import { ConfigError, type RelayConfig, generateSecret, loadConfig } from './ops/config.ts';
import type { Broker } from './broker/broker.ts';
import { MemoryBroker } from './broker/memory.ts';
import { createLogger, type Logger, silentLogger } from './ops/logger.ts';
import { EspeakProvider } from './providers/espeak/provider.ts';
import type { TTSProvider } from './providers/provider.ts';
import { findVoice, nearestVoices } from './providers/voice-match.ts';
import { Relay } from './core/relay.ts';
import { warmUp } from './ops/warm-up.ts';

export interface CreateRelayOptions {
  env: Record<string, string | undefined>;
  runtime: RuntimeAdapter;
  /** Where log lines go; silent when `quiet`. */
  writeLog?: (line: string) => void;
  quiet?: boolean;
  /** What the entry took from `.env`, for the start-up log (names only). */
  dotenv?: { path: string; names: string[] } | null;
}

export interface RelayInstance {
  app: Hono<any>;
  relay: Relay;
  config: RelayConfig;
  logger: Logger;
  /** Settles when the warm-up rehearsal (ops/warm-up.ts) is over; the relay serves meanwhile. */
  warmedUp: Promise<void>;
  /** Settles when the relay is warm, the rehearsal and the engine's own warm-up over: `/readyz` answers 200 from then. */
  warm: Promise<void>;
}

/** How long readiness waits for the warm-up at most: 1-3 s on an idle machine, tens under heavy load. */
const WARM_READINESS_BOUND_MS = 30_000;

export async function createRelay(options: CreateRelayOptions): Promise<RelayInstance> {
  const config = loadConfig(options.env, generateSecret);
  const secrets = [...config.adminKeys, ...config.tokens.secrets, ...(config.cartesia.apiKey ? [config.cartesia.apiKey] : [])];
  const redact = redactor(secrets);
  const logger = options.quiet ? silentLogger : createLogger({ level: config.logLevel, ...(options.writeLog ? { write: options.writeLog } : {}), redact });
  if (options.dotenv) logger.info(`read ${options.dotenv.path}`, { variables: options.dotenv.names });
  const provider = await createProvider(config, logger, options.runtime);
  await checkDefaultVoice(config, provider, logger).catch(async (error: unknown) => {
    await provider.close();
    throw error;
  });
  const replayBytes = config.hub.replaySeconds * bytesPerSecond(provider.preferredFormat);
  let relay: Relay;
  if (config.hub.kind === 'redis') {
    const { joinCluster } = await import('./cluster/join.ts');
    relay = await joinCluster({ config, provider, logger, replayBytes }).catch(async (error: unknown) => {
      await provider.close();
      throw error;
    });
  } else {
    const broker: Broker = new MemoryBroker({ replayBytes, onHandlerError: (error) => logger.error('broker subscriber failed', { error }) });
    relay = new Relay({ config, provider, broker, logger });
  }
  if (relay.auth.tokens.keySource === 'derived') {
    const lifetime = config.adminKeyGenerated ? 'this process exits' : 'the admin keys change';
    logger.info(`RELAY_TOKEN_SECRET is not set: tokens are signed with a key derived from the admin key, and stop verifying when ${lifetime}`);
  }
  const app = createApp(relay, options.runtime);
  // Its lines are formatted like the relay's (that code warms too) and go nowhere.
  const rehearsalLogger = options.quiet ? silentLogger : createLogger({ level: config.logLevel, write: () => {}, redact });
  const warmedUp = warmUp({ config, provider, runtime: options.runtime, app, logger: rehearsalLogger }).then(
    ({ ms, through }) => logger.debug('warm-up rehearsal done', { ms: Math.round(ms), through }),
    (error: unknown) => logger.warn('warm-up rehearsal failed: the first utterance may be slower', { error }),
  );
  const warm = Promise.all([warmedUp, provider.warmed]).then(() => {});
  relay.warming(warm, WARM_READINESS_BOUND_MS);
  return { app, relay, config, logger, warmedUp, warm };
}

async function createProvider(config: RelayConfig, logger: Logger, runtime: RuntimeAdapter): Promise<TTSProvider> {
  if (config.provider === 'cartesia') {
    const { CartesiaProvider } = await import('./providers/cartesia/provider.ts');
    return new CartesiaProvider(config.cartesia, logger.child({ provider: 'cartesia' }));
  }
  const provider = new EspeakProvider({ startWorker: runtime.startWorker, logger: logger.child({ provider: 'espeak' }), voice: config.voice });
  await provider.ready();
  return provider;
}

/** A TTS_VOICE the provider does not have stops the relay, naming the nearest; a list that cannot be had is only a warning. */
async function checkDefaultVoice(config: RelayConfig, provider: TTSProvider, logger: Logger): Promise<void> {
  if (!config.voice) return;
  let voices;
  try {
    voices = await provider.voices();
  } catch (error) {
    logger.warn('TTS_VOICE not checked: the provider\'s voice list could not be fetched', { error });
    return;
  }
  if (findVoice(voices, config.voice)) return;
  const near = nearestVoices(voices, config.voice).map((voice) => voice.id).join(', ');
  throw new ConfigError('TTS_VOICE', `${provider.name} has no voice "${config.voice}" (nearest: ${near}; GET /v1/voices lists them all)`);
}

// Any JWT (three base64url parts, the first a JSON header `{"…`): tokens are credentials too.
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/** Replaces every secret and every token in a log line, so no code path can leak one by accident. */
export function redactor(secrets: string[]): (line: string) => string {
  const present = secrets.filter((secret) => secret.length >= 8);
  return (line) => present.reduce((out, secret) => out.split(secret).join('[redacted]'), line).replace(JWT_PATTERN, '[token]').replace(API_KEY_PATTERN, '[api key]');
}
