/** Where the relay is and how to authenticate to it: flags first, then TTS_RELAY_URL / TTS_RELAY_TOKEN. */
import type { Encoding, SampleRate } from '../shared/audio-format.ts';
import { usageError } from './agent-error.ts';

export const DEFAULT_RELAY_URL = 'http://localhost:8787';

export interface RelayEndpoint {
  /** Base URL of the relay, http(s), without a trailing slash. */
  baseURL: string;
  token: string | undefined;
}

export function resolveEndpoint(
  flags: { url?: string; token?: string },
  env: Record<string, string | undefined>,
): RelayEndpoint {
  const raw = flags.url ?? env.TTS_RELAY_URL ?? DEFAULT_RELAY_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`invalid relay URL "${raw}": expected e.g. ${DEFAULT_RELAY_URL}`);
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  if (url.protocol === 'wss:') url.protocol = 'https:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`invalid relay URL "${raw}": use http://, https://, ws:// or wss://`);
  }
  url.search = '';
  url.hash = '';
  const token = flags.token ?? env.TTS_RELAY_TOKEN;
  return { baseURL: url.href.replace(/\/+$/, ''), token: token === '' ? undefined : token };
}

/** Stream names are URL-safe by construction (see STREAM_NAME_PATTERN), slashes included. */
export function streamURL(endpoint: RelayEndpoint, stream: string, action: string): URL {
  return new URL(`${endpoint.baseURL}/v1/streams/${stream}/${action}`);
}

export function listenURL(
  endpoint: RelayEndpoint,
  stream: string,
  format: { encoding?: Encoding; sampleRate?: SampleRate },
): URL {
  const url = streamURL(endpoint, stream, 'listen');
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (format.encoding) url.searchParams.set('encoding', format.encoding);
  if (format.sampleRate) url.searchParams.set('sample_rate', String(format.sampleRate));
  return url;
}

export function authHeaders(endpoint: RelayEndpoint): Record<string, string> {
  return endpoint.token === undefined ? {} : { Authorization: `Bearer ${endpoint.token}` };
}
