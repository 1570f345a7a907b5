/** Reads the relay's `{"error": {"code", "message"}}` answers, from fetch responses and refused WebSocket upgrades. */
import { ERRORS, type ErrorCode } from '../shared/errors.ts';
import { errorInfoSchema } from '../shared/protocol.ts';

/** The code a bare status stands for when the relay sends no body (as on a refused WebSocket upgrade). */
const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  500: 'internal_error',
  502: 'upstream_error',
  503: 'upstream_unavailable',
  504: 'upstream_timeout',
};

export interface RelayErrorInfo {
  /** A shared ErrorCode when the relay sent one, else `http_<status>`. */
  code: string;
  message: string;
  status: number;
}

export function parseRelayError(status: number, body: string): RelayErrorInfo {
  try {
    const parsed = errorInfoSchema.safeParse((JSON.parse(body) as { error?: unknown }).error);
    if (parsed.success) return { ...parsed.data, status };
  } catch {
    // Not JSON: a proxy or another server answered; fall through to the status line.
  }
  const text = body.trim().split('\n')[0]?.slice(0, 200) ?? '';
  const code = CODE_FOR_STATUS[status];
  if (text === '' && code !== undefined) return { code, message: ERRORS[code].message, status };
  return { code: `http_${status}`, message: text === '' ? `HTTP ${status}` : text, status };
}

export async function readRelayError(response: Response): Promise<RelayErrorInfo> {
  const body = await response.text().catch(() => '');
  return parseRelayError(response.status, body);
}

/** The one-line form the CLI prints: `error <code>: <message>`. */
export function formatRelayError(info: Pick<RelayErrorInfo, 'code' | 'message'>): string {
  return `error ${info.code}: ${info.message}`;
}

/** What to tell the user next to an auth failure. */
export function authHint(hasToken: boolean): string {
  return hasToken
    ? 'check --token / TTS_RELAY_TOKEN: it must be the admin key or a token minted for this stream'
    : 'pass --token or set TTS_RELAY_TOKEN';
}
