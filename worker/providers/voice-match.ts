/** Finding a requested voice in a provider's list, and naming the nearest ones when it is not there. */
import type { Voice } from '../../shared/api.ts';
import { editDistance } from '../../shared/edit-distance.ts';
import { RelayError } from '../../shared/errors.ts';

/** How many near matches an `unknown_voice` error names. */
const SUGGESTIONS = 3;

/** The voice whose id is `requested`, ignoring case; null when there is none. */
export function findVoice(voices: readonly Voice[], requested: string): Voice | null {
  const wanted = requested.toLowerCase();
  return voices.find((voice) => voice.id.toLowerCase() === wanted) ?? null;
}

/** The voices closest to `requested`: by edit distance to their id or name, a shared prefix or language first. */
export function nearestVoices(voices: readonly Voice[], requested: string, count = SUGGESTIONS): Voice[] {
  const wanted = requested.toLowerCase();
  const score = (voice: Voice): number => {
    const id = voice.id.toLowerCase();
    const name = voice.name.toLowerCase();
    const distance = Math.min(editDistance(wanted, id), editDistance(wanted, name));
    const related = id.startsWith(wanted) || wanted.startsWith(id) || name.includes(wanted) || voice.language.toLowerCase() === wanted;
    return related ? distance - 100 : distance;
  };
  return voices
    .map((voice, index) => ({ voice, index, score: score(voice) }))
    .sort((a, b) => a.score - b.score || a.index - b.index)
    .slice(0, count)
    .map(({ voice }) => voice);
}

/** What a voice id may look like to be repeated in an answer: never a pasted key or token (those are long, or dotted). */
const ECHOABLE = /^[\w -]{1,64}$/;

/** 400 `unknown_voice`, naming the nearest voices and where the whole list is. */
export function unknownVoiceError(voices: readonly Voice[], requested: string): RelayError {
  const near = nearestVoices(voices, requested).map((voice) => `${voice.id} (${voice.name})`);
  const hint = near.length > 0 ? ` Nearest: ${near.join(', ')}.` : '';
  const named = ECHOABLE.test(requested) ? ` "${requested}"` : ' by that name';
  return new RelayError('unknown_voice', `No voice${named} on this relay's provider.${hint} GET /v1/voices lists all ${voices.length}.`);
}
