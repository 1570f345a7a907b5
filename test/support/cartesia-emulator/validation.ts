/** Cartesia's rules for a generation request, as its API reference states them. */
import { ENCODINGS, SAMPLE_RATES } from '../../../shared/audio-format.ts';

const MODEL_PATTERN = /^sonic(-[a-z0-9.-]+)?$/;
// The languages Sonic 3 accepts (ISO 639-1).
const LANGUAGES = new Set(
  'en fr de es pt zh ja hi it ko nl pl ru sv tr ar bg bn cs da el fi gu he hr hu id ka kn ml mr ms ne no pa ro sk ta te th tl uk vi'.split(' '),
);
// Fields every request on a context must repeat unchanged (Cartesia: all but transcript, continue, flush, duration).
const FIXED_FIELDS = [
  'model_id',
  'voice',
  'output_format',
  'language',
  'add_timestamps',
  'add_phoneme_timestamps',
  'use_normalized_timestamps',
  'max_buffer_delay_ms',
  'pronunciation_dict_id',
] as const;
const FLAGS = ['continue', 'flush', 'add_timestamps', 'add_phoneme_timestamps', 'use_normalized_timestamps'] as const;

/** Why a generation request is invalid, as Cartesia would say it; null when it is valid. */
export function validate(request: Record<string, unknown>): string | null {
  for (const field of ['model_id', 'transcript', 'voice', 'output_format'] as const) {
    if (request[field] === undefined || request[field] === null) return `${field} is required.`;
  }
  if (typeof request.model_id !== 'string' || !MODEL_PATTERN.test(request.model_id)) return `Invalid model_id ${JSON.stringify(request.model_id)}.`;
  if (typeof request.transcript !== 'string') return 'transcript must be a string.';
  const voice = request.voice;
  const voiceId = typeof voice === 'string' ? voice : typeof voice === 'object' && voice !== null ? (voice as Record<string, unknown>).id : undefined;
  if (typeof voiceId !== 'string' || voiceId === '') return 'voice must be a voice ID or an object with an id.';
  const format = validateFormat(request.output_format as Record<string, unknown>);
  if (format) return format;
  if (request.language !== undefined && request.language !== null && !LANGUAGES.has(request.language as string)) return `Unsupported language ${JSON.stringify(request.language)}.`;
  const delayMs = request.max_buffer_delay_ms;
  if (delayMs !== undefined && delayMs !== null && (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > 5000)) {
    return 'max_buffer_delay_ms must be an integer between 0 and 5000.';
  }
  for (const flag of FLAGS) {
    if (request[flag] !== undefined && request[flag] !== null && typeof request[flag] !== 'boolean') return `${flag} must be a boolean.`;
  }
  return validateGenerationConfig(request.generation_config);
}

function validateFormat(format: Record<string, unknown>): string | null {
  if (typeof format !== 'object') return 'output_format must be an object.';
  if (format.container !== 'raw') return 'The WebSocket supports only output_format.container "raw".';
  if (!(ENCODINGS as readonly unknown[]).includes(format.encoding)) return `Unsupported encoding ${JSON.stringify(format.encoding)}.`;
  if (!(SAMPLE_RATES as readonly unknown[]).includes(format.sample_rate)) return `Unsupported sample_rate ${JSON.stringify(format.sample_rate)}.`;
  return null;
}

function validateGenerationConfig(config: unknown): string | null {
  if (config === undefined) return null;
  if (typeof config !== 'object' || config === null) return 'generation_config must be an object.';
  const { speed, volume, emotion } = config as Record<string, unknown>;
  if (speed !== undefined && (typeof speed !== 'number' || speed < 0.6 || speed > 1.5)) return 'generation_config.speed must be between 0.6 and 1.5.';
  if (volume !== undefined && (typeof volume !== 'number' || volume < 0.5 || volume > 2)) return 'generation_config.volume must be between 0.5 and 2.0.';
  if (emotion !== undefined && typeof emotion !== 'string') return 'generation_config.emotion must be a string.';
  return null;
}

/** The fields a context fixes with its first request, as one comparable string. */
export function fixedFields(request: Record<string, unknown>): string {
  return JSON.stringify(FIXED_FIELDS.map((field) => request[field] ?? null));
}
