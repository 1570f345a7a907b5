/** `tts-agent token`: asks the relay (with an admin key) for a scoped, expiring token and prints it. */
import { isValidStreamScope, TOKEN_ACTIONS, type TokenAction, type TokenRequest, type TokenResponse, tokenResponseSchema } from '../shared/api.ts';
import { AgentError, usageError } from './agent-error.ts';
import { parseCommandArgs } from './args.ts';
import { explainConnectFailure } from './connect-failure.ts';
import { DEFAULT_RELAY_URL, endpointFrom, type RelayEndpoint } from './relay-endpoint.ts';
import { formatRelayError, readRelayError } from './relay-error.ts';

export const TOKEN_USAGE = `Usage: tts-agent token <stream>... [options]

Mints a token that may do --actions on the given streams (a name, prefix/* for every stream under
prefix/, or * for all) until it expires. Needs an admin key. Prints the token alone on stdout, so
TOKEN=$(tts-agent token kitchen --actions listen) works; its expiry goes to stderr.

Options:
  --actions A,B      any of ${TOKEN_ACTIONS.join(', ')} (default: listen); status is allowed by any
  --ttl T            lifetime: seconds, or 30s, 15m, 2h, 1d (default: the relay's, 15m)
  --rate N           requests per second this token may make (default: the relay's)
  --burst N          requests it may make at once (default: the relay's, or N of --rate)
  --label L          who it is for; kept in the token and the relay's logs
  --json             print the relay's whole answer as JSON instead
  --url URL          relay URL (env TTS_RELAY_URL, default ${DEFAULT_RELAY_URL})
  --token KEY        the admin key (env TTS_RELAY_TOKEN, else RELAY_ADMIN_KEY)
  --token-file F     read the admin key from file F ("-": stdin), so it does not show in ps
  -h, --help         this help

Examples:
  tts-agent token kitchen --actions listen --ttl 8h --label "kitchen tablet"
  tts-agent token 'home/*' --actions speak,cancel --rate 2`;

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  actions: { type: 'string' },
  ttl: { type: 'string' },
  rate: { type: 'string' },
  burst: { type: 'string' },
  label: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

interface TokenIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
}

/** Runs `tts-agent token <args>`; resolves with the exit code, throws AgentError for the CLI to report. */
export async function tokenCommand(args: string[], io: TokenIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('token', args, OPTIONS);
  if (values.help) {
    io.stdout.write(`${TOKEN_USAGE}\n`);
    return 0;
  }
  const request = tokenRequest(positionals, values);
  // On the relay's own host the admin key is often in RELAY_ADMIN_KEY already.
  const endpoint = await endpointFrom(values, io.env);
  if (endpoint.token === undefined) throw usageError('minting a token needs the admin key: pass --token or --token-file, or set TTS_RELAY_TOKEN (or RELAY_ADMIN_KEY)');
  const minted = await mintToken(endpoint, request);
  if (values.json) {
    io.stdout.write(`${JSON.stringify(minted, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`${minted.token}\n`);
  io.stderr.write(`token ${minted.token_id}: ${minted.actions.join(', ')} on ${minted.streams.join(', ')}; expires ${minted.expires_at}\n`);
  return 0;
}

/** POSTs a token request with the admin key; throws AgentError with the relay's code when refused. */
export async function mintToken(endpoint: RelayEndpoint, request: TokenRequest, signal?: AbortSignal): Promise<TokenResponse> {
  let response: Response;
  try {
    response = await fetch(`${endpoint.baseURL}/v1/tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${endpoint.token ?? ''}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(request),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    throw new AgentError('relay_unreachable', (await explainConnectFailure(endpoint.baseURL, error)).message, { cause: error });
  }
  if (!response.ok) {
    const info = await readRelayError(response);
    const hint = response.status === 401 || response.status === 403 ? '\nhint: minting needs the admin key (--token, --token-file, TTS_RELAY_TOKEN or RELAY_ADMIN_KEY), not a token' : '';
    throw new AgentError('relay_error', `${formatRelayError(info)}${hint}`);
  }
  const parsed = tokenResponseSchema.safeParse(await response.json().catch(() => null));
  if (!parsed.success) throw new AgentError('relay_error', 'error bad_response: the relay\'s answer is not a token');
  return parsed.data;
}

function tokenRequest(positionals: string[], values: { actions?: string; ttl?: string; rate?: string; burst?: string; label?: string }): TokenRequest {
  if (positionals.length === 0) throw usageError('name at least one stream: tts-agent token <stream>... (a name, prefix/* or *)');
  const bad = positionals.find((scope) => !isValidStreamScope(scope));
  if (bad !== undefined) throw usageError(`invalid stream "${bad}": a stream name, prefix/* or *`);
  const actions = (values.actions ?? 'listen').split(',').map((action) => action.trim()).filter(Boolean);
  const unknown = actions.find((action) => !(TOKEN_ACTIONS as readonly string[]).includes(action));
  if (unknown !== undefined || actions.length === 0) throw usageError(`--actions takes ${TOKEN_ACTIONS.join(', ')} separated by commas; got "${values.actions}"`);
  return {
    streams: positionals,
    actions: actions as TokenAction[],
    ...(values.ttl !== undefined ? { expires_in: parseTtl(values.ttl) } : {}),
    ...(values.rate !== undefined ? { rate: positiveNumber('--rate', values.rate) } : {}),
    ...(values.burst !== undefined ? { burst: wholeNumber('--burst', values.burst) } : {}),
    ...(values.label !== undefined ? { label: values.label } : {}),
  };
}

/** `900`, `30s`, `15m`, `2h`, `1d` → seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * TTL_UNITS[match[2] || 's']! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw usageError(`--ttl takes seconds or a number with s, m, h or d (e.g. 15m); got "${text}"`);
  return seconds;
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw usageError(`${flag} must be a number above 0; got "${text}"`);
  return value;
}

function wholeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw usageError(`${flag} must be a whole number of at least 1; got "${text}"`);
  return value;
}
