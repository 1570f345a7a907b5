/**
 * Where the relay is and how to authenticate to it: flags first (--token, or --token-file, which keeps the
 * key out of `ps`), then TTS_RELAY_URL / TTS_RELAY_TOKEN, then RELAY_ADMIN_KEY (set where the relay runs).
 */
import { readFile } from 'node:fs/promises';
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
  const token = [flags.token, env.TTS_RELAY_TOKEN, env.RELAY_ADMIN_KEY].find((value) => value !== undefined && value !== '');
  return { baseURL: url.href.replace(/\/+$/, ''), token };
}

/**
 * The key or token in `path` ("-": stdin), its first line trimmed; undefined without a path. Refuses a
 * --token beside it, and an empty or unreadable file.
 */
export async function readTokenFile(path: string | undefined, token: string | undefined, stdin: () => Promise<string>): Promise<string | undefined> {
  if (path === undefined) return undefined;
  if (token !== undefined) throw usageError('pass --token or --token-file, not both');
  let text: string;
  try {
    text = path === '-' ? await stdin() : await readFile(path, 'utf8');
  } catch (error) {
    throw usageError(`--token-file: cannot read ${path} (${(error as { code?: string }).code ?? String(error)})`);
  }
  const first = text.split(/\r?\n/).find((line) => line.trim() !== '')?.trim();
  if (!first) throw usageError(`--token-file: ${path === '-' ? 'stdin' : path} holds no key or token`);
  return first;
}

/** The endpoint from a command's --url, --token and --token-file, with the environment behind them. */
export async function endpointFrom(
  flags: { url?: string | undefined; token?: string | undefined; 'token-file'?: string | undefined },
  env: Record<string, string | undefined>,
): Promise<RelayEndpoint> {
  const fromFile = await readTokenFile(flags['token-file'], flags.token, readStdin);
  return resolveEndpoint({ ...(flags.url !== undefined ? { url: flags.url } : {}), ...((flags.token ?? fromFile) !== undefined ? { token: (flags.token ?? fromFile)! } : {}) }, env);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Stream names are URL-safe by construction (see STREAM_NAME_PATTERN), slashes included. */
export function streamURL(endpoint: RelayEndpoint, stream: string, action: string): URL {
  return new URL(`${endpoint.baseURL}/v1/streams/${stream}/${action}`);
}

export function listenURL(
  endpoint: RelayEndpoint,
  stream: string,
  format: { encoding?: Encoding; sampleRate?: SampleRate },
  options: { timing?: boolean } = {},
): URL {
  const url = streamURL(endpoint, stream, 'listen');
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (options.timing) url.searchParams.set('timing', 'true');
  if (format.encoding) url.searchParams.set('encoding', format.encoding);
  if (format.sampleRate) url.searchParams.set('sample_rate', String(format.sampleRate));
  return url;
}

export function authHeaders(endpoint: RelayEndpoint): Record<string, string> {
  return endpoint.token === undefined ? {} : { Authorization: `Bearer ${endpoint.token}` };
}
