/** Cartesia's credential forms: `Authorization: Bearer`, `X-API-Key`, `?api_key=` and `?access_token=`. */
import type { IncomingMessage } from 'node:http';
import type { UpgradeRecord } from './types.ts';

export const EMULATOR_API_KEY = 'sk_car_emulator_0123456789abcdef';

export type AuthForm = UpgradeRecord['auth'];
export type AuthResult = { ok: true; form: AuthForm } | { ok: false; form: AuthForm; message: string };

/** Accepts a request when any credential it carries is known: API keys in any form, access tokens as token or Bearer. */
export function authenticate(req: IncomingMessage, url: URL, apiKeys: Set<string>, tokens: Set<string>): AuthResult {
  const authorization = req.headers.authorization;
  const candidates: Array<[AuthForm, string | null | undefined]> = [
    ['bearer', authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined],
    ['x-api-key', req.headers['x-api-key'] as string | undefined],
    ['api_key', url.searchParams.get('api_key')],
    ['access_token', url.searchParams.get('access_token')],
  ];
  const present = candidates.filter(([, value]) => typeof value === 'string' && value !== '');
  if (present.length === 0) return { ok: false, form: null, message: 'No API key: send Authorization: Bearer <key>, X-API-Key, or ?api_key=.' };
  for (const [form, value] of present) {
    if (form === 'access_token' ? tokens.has(value!) : apiKeys.has(value!) || (form === 'bearer' && tokens.has(value!))) return { ok: true, form };
  }
  return { ok: false, form: present[0]![0], message: 'Invalid API key.' };
}
