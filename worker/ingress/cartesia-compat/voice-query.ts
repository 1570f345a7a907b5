/**
 * The filters of Cartesia's `GET /voices` (the SDK's `VoiceListParams`) as the relay applies them: `q` and
 * `is_owner` filter, `expand[]=preview_file_url` adds the (null) preview; `gender` and parameters the relay does not
 * know are refused with a 400 rather than ignored, so a client never takes an unfiltered list for a filtered one.
 */
import { RelayError } from '../../../shared/errors.ts';

/** How a Cartesia-style request authenticates, names its stream and its API version: not filters. */
const REQUEST_PARAMS = ['api_key', 'access_token', 'token', 'stream', 'cartesia_version'];
/** Paging (applied by the caller) and the filters below. */
const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'q', 'is_owner', 'expand', 'expand[]'];
const KNOWN_PARAMS = new Set([...REQUEST_PARAMS, ...LIST_PARAMS]);

export interface VoiceQuery {
  /** Lower-cased text searched for in the name, description and id. */
  q: string | null;
  /** `is_owner=true`: none of the provider's voices belongs to the caller's organization. */
  ownedOnly: boolean;
  previews: boolean;
}

/** The filters of a `GET /voices` URL; throws `bad_request` for one the relay cannot apply. */
export function voiceQuery(url: URL): VoiceQuery {
  const params = url.searchParams;
  for (const name of new Set(params.keys())) {
    if (name === 'gender') throw new RelayError('bad_request', "gender: the relay does not know its voices' gender presentation; list without it, or search names with q.");
    if (!KNOWN_PARAMS.has(name)) throw new RelayError('bad_request', `${name}: not a parameter of GET /voices the relay knows (${LIST_PARAMS.join(', ')}).`);
  }
  const isOwner = params.get('is_owner');
  if (isOwner !== null && isOwner !== 'true' && isOwner !== 'false') throw new RelayError('bad_request', 'is_owner: true or false.');
  return { q: params.get('q')?.trim().toLowerCase() || null, ownedOnly: isOwner === 'true', previews: previewsAsked(url) };
}

/** `expand[]=preview_file_url` (the only expansion Cartesia has); anything else is refused. */
export function previewsAsked(url: URL): boolean {
  const expand = [...url.searchParams.getAll('expand'), ...url.searchParams.getAll('expand[]')];
  const unknown = expand.find((field) => field !== 'preview_file_url');
  if (unknown !== undefined) throw new RelayError('bad_request', `expand: ${unknown} is not expandable; only preview_file_url.`);
  return expand.length > 0;
}

/** Whether a voice, as Cartesia shows it, passes the query's filters. */
export function matches(voice: { id: string; name: string; description: string; is_owner: boolean }, query: VoiceQuery): boolean {
  if (query.ownedOnly && !voice.is_owner) return false;
  const { q } = query;
  return q === null || [voice.name, voice.description, voice.id].some((field) => field.toLowerCase().includes(q));
}
