/** Checks a requested voice against the provider's list before any text is queued. */
import type { TTSProvider } from '../providers/provider.ts';
import { findVoice, unknownVoiceError } from '../providers/voice-match.ts';

/**
 * The provider's id for `voice` (its own spelling), or undefined when none was asked for. Throws 400
 * `unknown_voice` naming the nearest voices. When the provider cannot list its voices now (Cartesia
 * unreachable), the voice goes on unchecked: the provider itself refuses it if it must.
 */
export async function checkVoice(provider: Pick<TTSProvider, 'voices'>, voice: string | undefined): Promise<string | undefined> {
  if (voice === undefined) return undefined;
  const voices = await provider.voices().catch(() => null);
  if (!voices) return voice;
  const found = findVoice(voices, voice);
  if (!found) throw unknownVoiceError(voices, voice);
  return found.id;
}
