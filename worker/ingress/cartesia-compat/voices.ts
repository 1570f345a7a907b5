/**
 * `GET /voices` and `GET /voices/{id}` as Cartesia answers them (a cursor page of voices, one voice), from the
 * provider's own list: Cartesia's voices through the relay, the embedded engine's voices on espeak.
 */
import type { Context } from 'hono';
import type { Voice } from '../../../shared/api.ts';
import { RelayError } from '../../../shared/errors.ts';
import type { Env } from '../../runtime/contract.ts';
import type { CompatIngress } from './ingress.ts';
import { findVoice } from '../../providers/voice-match.ts';
import { compatPrincipal } from './credentials.ts';
import { matches, previewsAsked, voiceQuery } from './voice-query.ts';

type CartesiaVoice = ReturnType<typeof cartesiaVoice>;

/** Cartesia's page size bounds. */
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;

/**
 * `GET /voices`: a cursor page (`limit`, `starting_after`, `ending_before`) of the provider's voices, filtered by
 * `q` and `is_owner`, with `expand[]=preview_file_url`; a filter the relay cannot apply is refused, not ignored.
 */
export async function listVoices(c: Context<Env>, ingress: CompatIngress, named: string | null): Promise<Response> {
  const all = await providerVoices(c, ingress, named);
  const query = voiceQuery(new URL(c.req.url));
  const voices = all.map((voice) => cartesiaVoice(voice, ingress.provider.name, query.previews)).filter((voice) => matches(voice, query));
  const limit = pageLimit(c.req.query('limit'));
  const after = c.req.query('starting_after');
  const before = c.req.query('ending_before');
  const start = after ? indexOf(voices, after) + 1 : 0;
  const end = before ? indexOf(voices, before) : voices.length;
  const page = before && !after ? voices.slice(Math.max(0, end - limit), end) : voices.slice(start, start + limit);
  const last = page.at(-1);
  const hasMore = last !== undefined && voices.indexOf(last) < voices.length - 1;
  return c.json({ data: page, has_more: hasMore, ...(hasMore ? { next_page: last.id } : {}) });
}

/** `GET /voices/{id}` (with `expand[]=preview_file_url`). */
export async function getVoice(c: Context<Env>, ingress: CompatIngress, named: string | null, id: string): Promise<Response> {
  const all = await providerVoices(c, ingress, named);
  const previews = previewsAsked(new URL(c.req.url));
  const voice = findVoice(all, id);
  if (!voice) throw new RelayError('not_found', `No voice ${id} on this relay's provider; GET /voices lists them.`);
  return c.json(cartesiaVoice(voice, ingress.provider.name, previews));
}

/** Any credential the compatible ingress takes may read the list, as any Cartesia key may. */
async function providerVoices(c: Context<Env>, ingress: CompatIngress, named: string | null): Promise<Voice[]> {
  await compatPrincipal(c, ingress, named);
  return ingress.provider.voices();
}

function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new RelayError('bad_request', `limit: an integer from 1 to ${MAX_LIMIT}.`);
  return limit;
}

function indexOf(voices: CartesiaVoice[], id: string): number {
  const index = voices.findIndex((voice) => voice.id === id);
  if (index < 0) throw new RelayError('bad_request', `No voice ${id} to page from.`);
  return index;
}

/** The SDK's `Voice`: what the relay knows, and neutral values for what only Cartesia's account has. */
function cartesiaVoice(voice: Voice, provider: string, previews: boolean) {
  return {
    ...(previews ? { preview_file_url: null } : {}),
    id: voice.id,
    name: voice.name,
    description: `${voice.name} (${provider})`,
    tagline: voice.name,
    language: voice.language.split('-')[0] ?? voice.language,
    locales: [],
    access: 'public',
    visibility: 'all',
    is_owner: false,
    created_at: new Date(0).toISOString(),
  };
}
