/**
 * The Cartesia provider: one Cartesia context per utterance over the official SDK's WebSocket, text pushed
 * with `continue: true` as it arrives, multiplexed over a small pool of sockets.
 */
import type { Voice } from '../../../shared/api.ts';
import type { AudioFormat } from '../../../shared/audio-format.ts';
import type { CartesiaUpstreamField } from '../../../shared/cartesia-messages.ts';
import { RelayError } from '../../../shared/errors.ts';
import { unrefTimer } from '../../../shared/timers.ts';
import type { CartesiaConfig } from '../../ops/config.ts';
import type { Logger } from '../../ops/logger.ts';
import type { ContextOptions, TTSContext, TTSProvider } from '../provider.ts';
import { CartesiaContext } from './context.ts';
import { contextSettings, DEFAULT_CARTESIA_VOICE } from './context-settings.ts';
import { CartesiaPool } from './pool.ts';
import { rehearseParsing } from './schema.ts';
import { readCertificateFile } from './sdk.ts';
import { CartesiaVoices } from './voices.ts';

export { DEFAULT_CARTESIA_VOICE } from './context-settings.ts';

const DEFAULT_BASE_URL = 'https://api.cartesia.ai';

export class CartesiaProvider implements TTSProvider {
  readonly name = 'cartesia';
  readonly upstreamFields: readonly CartesiaUpstreamField[] = ['pronunciation_dict_id', 'use_normalized_timestamps'];
  readonly preferredFormat: AudioFormat;
  readonly pool: CartesiaPool;
  readonly defaultVoice: string;
  private readonly voiceList: CartesiaVoices;

  constructor(
    private readonly config: CartesiaConfig,
    private readonly logger: Logger,
  ) {
    if (!config.apiKey) throw new RelayError('upstream_unavailable', 'CARTESIA_API_KEY is not set.');
    this.preferredFormat = { encoding: config.encoding, sampleRate: config.sampleRate };
    this.defaultVoice = config.voiceId ?? DEFAULT_CARTESIA_VOICE;
    const ca = config.caFile ? readCertificate(config.caFile) : undefined;
    this.pool = new CartesiaPool(
      {
        apiKey: config.apiKey,
        baseUrl: config.baseUrl ?? DEFAULT_BASE_URL,
        ...(ca ? { ca } : {}),
        size: config.poolSize,
        contextsPerSocket: config.contextsPerSocket,
        recycleIdleMs: config.recycleIdleMs,
        connectTimeoutMs: config.connectTimeoutMs,
        backoffBaseMs: config.backoffBaseMs,
        backoffMaxMs: config.backoffMaxMs,
        maxWaitMs: config.maxWaitMs,
        rateLimitCooldownMs: config.rateLimitCooldownMs,
      },
      logger,
    );
    this.voiceList = new CartesiaVoices(config.baseUrl ?? DEFAULT_BASE_URL, { apiKey: config.apiKey, ...(ca ? { ca } : {}), timeoutMs: config.connectTimeoutMs });
    // Connect ahead of the first utterance, so it does not pay for the TLS and WebSocket handshakes, nor for
    // the first parse of Cartesia's messages (after start-up: it takes tens of milliseconds).
    this.pool.warm().catch((error: unknown) => this.logger.warn('Cartesia is not reachable yet', { error }));
    unrefTimer(setTimeout(rehearseParsing, 0));
  }

  openContext(options: ContextOptions): TTSContext {
    return new CartesiaContext(contextSettings(this.config, options), options, this.pool, this.config.contextTimeoutMs, this.logger);
  }

  voices(): Promise<Voice[]> {
    return this.voiceList.list();
  }

  async ready(): Promise<void> {
    await this.pool.warm();
  }

  healthy(): boolean {
    return this.pool.healthy;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function readCertificate(path: string): string {
  try {
    return readCertificateFile(path);
  } catch (cause) {
    throw new Error(`CARTESIA_CA_FILE: cannot read ${path}`, { cause });
  }
}
