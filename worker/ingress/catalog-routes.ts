/** What a credential can see: GET /v1/voices (the provider's voices) and GET /v1/streams (the streams it covers). */
import { Hono } from 'hono';
import type { StreamList, StreamSummary, VoiceList } from '../../shared/api.ts';
import type { Env } from '../runtime/contract.ts';
import type { Principal } from '../security/auth.ts';
import { scopeCovers } from '../security/tokens.ts';
import type { IngressContext } from './context.ts';

export function catalogRoutes({ provider, directory, listeners }: IngressContext): Hono<Env> {
  const app = new Hono<Env>();

  // Any credential: a token that may only listen still wants to know what a speaker may ask for.
  app.get('/v1/voices', async (c) => {
    const body: VoiceList = { provider: provider.name, default: provider.defaultVoice, voices: await provider.voices() };
    return c.json(body);
  });

  app.get('/v1/streams', async (c) => {
    const principal = c.get('principal');
    const names = (await directory.names()).filter((name) => covers(principal, name)).sort();
    const streams: StreamSummary[] = [];
    for (const name of names) {
      const queue = await directory.status(name);
      streams.push({ stream: name, listeners: listeners.count(name), queue_length: queue?.queue.length ?? 0, current: queue?.current ?? null });
    }
    const body: StreamList = { streams };
    return c.json(body);
  });

  return app;
}

function covers(principal: Principal, name: string): boolean {
  return principal.kind === 'admin' || principal.streams.some((scope) => scopeCovers(scope, name));
}
