/** The fields fixed for a whole Cartesia context: the request's choices over the configured defaults. */
import type { CartesiaConfig } from '../../ops/config.ts';
import type { ContextOptions } from '../provider.ts';
import type { SDKContextOptions } from './sdk.ts';

// A public Cartesia voice used in its own examples, for relays started without CARTESIA_VOICE_ID.
export const DEFAULT_CARTESIA_VOICE = '6ccbfb76-1fc6-48f7-b71d-91ac6298247b';
// Cartesia's documented generation_config ranges.
const SPEED_RANGE = [0.6, 1.5] as const;
const VOLUME_RANGE = [0.5, 2] as const;

export interface GenerationConfig {
  speed?: number;
  volume?: number;
  emotion?: string;
}

export type ContextSettings = Omit<SDKContextOptions, 'contextId' | 'timeout'> & { generation: GenerationConfig | undefined };

export function contextSettings(config: CartesiaConfig, options: ContextOptions): ContextSettings {
  const buffering = options.buffering ?? 'relay';
  return {
    model_id: options.model ?? config.modelId,
    voice: options.voice ?? config.voiceId ?? DEFAULT_CARTESIA_VOICE,
    output_format: { container: 'raw', encoding: options.format.encoding, sample_rate: options.format.sampleRate },
    language: cartesiaLanguage(options.language) ?? config.language,
    // The relay aggregates sentences itself, or lets Cartesia buffer: never both.
    max_buffer_delay_ms: buffering === 'relay' ? 0 : (options.maxBufferDelayMs ?? config.maxBufferDelayMs),
    ...(options.timestamps ? { add_timestamps: true } : {}),
    ...(options.phonemeTimestamps ? { add_phoneme_timestamps: true } : {}),
    ...(options.pronunciationDictId ? { pronunciation_dict_id: options.pronunciationDictId } : {}),
    ...(options.normalizedTimestamps ? { use_normalized_timestamps: true } : {}),
    generation: generationConfig(config.generation, options.generation),
  };
}

/** Cartesia wants an ISO 639-1 code; requests may carry a locale such as `en-US` or an espeak voice such as `en-us`. */
function cartesiaLanguage(language: string | undefined): string | undefined {
  const match = language ? /^([a-z]{2,3})(?:[-_].*)?$/i.exec(language) : null;
  return match ? match[1]!.toLowerCase() : undefined;
}

function generationConfig(defaults: GenerationConfig, requested: Record<string, unknown> | undefined): GenerationConfig | undefined {
  const config: GenerationConfig = { ...defaults };
  const speed = requested?.speed;
  const volume = requested?.volume;
  const emotion = requested?.emotion;
  if (typeof speed === 'number' && speed >= SPEED_RANGE[0] && speed <= SPEED_RANGE[1]) config.speed = speed;
  if (typeof volume === 'number' && volume >= VOLUME_RANGE[0] && volume <= VOLUME_RANGE[1]) config.volume = volume;
  if (typeof emotion === 'string' && emotion !== '') config.emotion = emotion;
  return Object.keys(config).length > 0 ? config : undefined;
}
