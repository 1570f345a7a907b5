/** /v1/keys: an admin mints, lists and revokes scoped API keys (long-lived credentials for URLs). */
import { Hono } from 'hono';
import { z } from 'zod';
import { tokenRequestSchema } from '../../shared/api.ts';
import { RelayError } from '../../shared/errors.ts';
import type { Env } from '../runtime/contract.ts';
import { authorize } from './auth.ts';
import { decodeUtf8, limitBytes, readJson } from '../ingress/body.ts';
import type { Logger } from '../ops/logger.ts';
import type { ApiKeyRecord, ApiKeys } from './api-keys.ts';

const MAX_BODY_BYTES = 16 * 1024;
/** A token request without its lifetime: a key lives until it is revoked. */
const keyRequestSchema = tokenRequestSchema.omit({ expires_in: true });

export function keyRoutes(keys: ApiKeys, logger: Logger): Hono<Env> {
  const app = new Hono<Env>();
  app.use('*', async (c, next) => {
    authorize(c.get('principal'), 'admin');
    c.header('Cache-Control', 'no-store');
    await next();
  });

  app.post('/', async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new RelayError('unsupported_media_type', 'Send the key request as application/json.');
    const parsed = keyRequestSchema.safeParse(await readJson(decodeUtf8(limitBytes(c.req.raw.body, MAX_BODY_BYTES))));
    if (!parsed.success) throw new RelayError('bad_request', `Invalid key request: ${issueOf(parsed.error)}. Expected {"streams": [...], "actions": ["speak"|"listen"|"cancel"], "rate"?, "burst"?, "label"?}.`);
    const { streams, actions, ...rest } = parsed.data;
    const { key, record } = await keys.mint({ streams: [...new Set(streams)], actions: [...new Set(actions)], ...rest });
    logger.info('api key minted', { key_id: record.id, streams: record.streams, actions: record.actions, ...(record.label ? { label: record.label } : {}) });
    return c.json({ key, ...view(record) }, 201);
  });

  app.get('/', async (c) => c.json({ keys: (await keys.list()).map(view) }));

  app.delete('/:id', async (c) => {
    const record = await keys.revoke(c.req.param('id'));
    if (!record) throw new RelayError('not_found', 'No such API key; GET /v1/keys lists them.');
    logger.info('api key revoked', { key_id: record.id, source: record.source });
    const note = record.source === 'configured' ? { note: 'Revoked until the relay restarts: remove it from RELAY_API_KEYS too.' } : {};
    return c.json({ ...view(record), revoked: true, ...note });
  });

  app.all('*', () => {
    throw new RelayError('method_not_allowed', 'POST /v1/keys mints a key, GET lists them, DELETE /v1/keys/{key_id} revokes one.');
  });
  return app;
}

function view(record: ApiKeyRecord) {
  const { id, ...rest } = record;
  return { key_id: id, ...rest };
}

function issueOf(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue?.message ?? 'invalid'}`;
}
