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

/**
 * What to tell the user next to a 401 or 403 (null for other statuses): a missing credential, one the relay
 * does not know, or a token that lacks the action or the stream (the relay's message says which).
 */
export function authHint(status: number, message: string, hasToken: boolean): string | null {
  if (status === 401 || status === 4401) {
    return hasToken
      ? 'the relay does not know this key or token: check --token / --token-file / TTS_RELAY_TOKEN / RELAY_ADMIN_KEY (a relay started without RELAY_ADMIN_KEY makes a new key each start)'
      : 'pass --token or --token-file, or set TTS_RELAY_TOKEN (or RELAY_ADMIN_KEY, where the relay runs)';
  }
  if (status !== 403 && status !== 4403) return null;
  const action = /may not (\w+)/.exec(message)?.[1];
  if (action) return `mint a token with that action: tts-agent token <stream> --actions ${action} (or use the admin key)`;
  if (/does not cover stream/.test(message)) return 'mint a token that covers this stream: tts-agent token <stream> (or use the admin key)';
  return 'this route needs the admin key';
}
