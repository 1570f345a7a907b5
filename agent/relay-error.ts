/** Reads the relay's `{"error": {"code", "message"}}` answers, from fetch responses and refused WebSocket upgrades. */
import { codeForStatus, ERRORS } from '../shared/errors.ts';
import { errorInfoSchema } from '../shared/protocol.ts';

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
  const code = codeForStatus(status);
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
