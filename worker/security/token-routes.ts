/** POST /v1/tokens: an admin mints a scoped, expiring token. */
import { Hono } from 'hono';
import { type TokenResponse, tokenRequestSchema } from '../../shared/api.ts';
import { RelayError } from '../../shared/errors.ts';
import type { Env } from '../runtime/contract.ts';
import { authorize } from './auth.ts';
import { decodeUtf8, limitBytes, readJson } from '../ingress/body.ts';
import type { Logger } from '../ops/logger.ts';
import type { TokenService } from './tokens.ts';

// A token request is a few hundred bytes; this leaves room for 64 long stream scopes.
const MAX_BODY_BYTES = 16 * 1024;

export function tokenRoutes(tokens: TokenService, logger: Logger): Hono<Env> {
  const app = new Hono<Env>();

  app.post('/', async (c) => {
    authorize(c.get('principal'), 'admin');
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new RelayError('unsupported_media_type', 'Send the token request as application/json.');
    const parsed = tokenRequestSchema.safeParse(await readJson(decodeUtf8(limitBytes(c.req.raw.body, MAX_BODY_BYTES))));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new RelayError('bad_request', `Invalid token request: ${where}${issue?.message ?? 'invalid'}. Expected {"streams": [...], "actions": ["speak"|"listen"|"cancel"], "expires_in"?, "rate"?, "burst"?, "label"?}.`);
    }
    const minted = await tokens.mint(parsed.data);
    const { claims } = minted;
    logger.info('token minted', { token_id: claims.jti, streams: claims.streams, actions: claims.actions, expires_in: claims.exp - claims.iat, ...(claims.sub ? { label: claims.sub } : {}) });
    const body: TokenResponse = {
      token: minted.token,
      token_id: claims.jti,
      streams: claims.streams,
      actions: claims.actions,
      expires_at: new Date(claims.exp * 1000).toISOString(),
      expires_in: claims.exp - claims.iat,
      rate: minted.rate.perSecond,
      burst: minted.rate.burst,
      ...(claims.sub !== undefined ? { label: claims.sub } : {}),
    };
    c.header('Cache-Control', 'no-store');
    return c.json(body, 201);
  });
  app.all('/', () => {
    throw new RelayError('method_not_allowed', 'POST a JSON token request to /v1/tokens.');
  });

  return app;
}
