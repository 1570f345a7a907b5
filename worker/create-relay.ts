/** Builds a relay from configuration: picks the provider and hub once, then the app over them. */
import type { Hono } from 'hono';
import { createApp, type RuntimeAdapter } from './app.ts';
import { type RelayConfig, generateSecret, loadConfig } from './config.ts';
import type { Hub } from './hub/hub.ts';
import { MemoryHub } from './hub/memory.ts';
import { createLogger, type Logger, silentLogger } from './logger.ts';
import { EspeakProvider } from './providers/espeak.ts';
import type { TTSProvider } from './providers/provider.ts';
import { Relay } from './relay.ts';

export interface CreateRelayOptions {
  env: Record<string, string | undefined>;
  runtime: RuntimeAdapter;
  /** Where log lines go; silent when `quiet`. */
  writeLog?: (line: string) => void;
  quiet?: boolean;
}

export interface RelayInstance {
  app: Hono<any>;
  relay: Relay;
  config: RelayConfig;
  logger: Logger;
}

export async function createRelay(options: CreateRelayOptions): Promise<RelayInstance> {
  const config = loadConfig(options.env, generateSecret);
  const secrets = [...config.adminKeys, ...(config.cartesia.apiKey ? [config.cartesia.apiKey] : [])];
  const logger = options.quiet
    ? silentLogger
    : createLogger({ level: config.logLevel, ...(options.writeLog ? { write: options.writeLog } : {}), redact: redactor(secrets) });
  const provider = await createProvider(config, logger);
  const hub: Hub = new MemoryHub((error) => logger.error('hub subscriber failed', { error }));
  const relay = new Relay({ config, provider, hub, logger });
  const app = createApp(relay, options.runtime);
  return { app, relay, config, logger };
}

async function createProvider(config: RelayConfig, logger: Logger): Promise<TTSProvider> {
  if (config.provider === 'cartesia') {
    const { CartesiaProvider } = await import('./providers/cartesia.ts');
    return new CartesiaProvider(config.cartesia, logger.child({ provider: 'cartesia' }));
  }
  const provider = new EspeakProvider();
  await provider.ready();
  return provider;
}

/** Replaces every secret in a log line, so no code path can leak one by accident. */
function redactor(secrets: string[]): (line: string) => string {
  const present = secrets.filter((secret) => secret.length >= 8);
  return (line) => present.reduce((out, secret) => out.split(secret).join('[redacted]'), line);
}
