/** The emulator's plain HTTPS side: Cartesia's REST `GET /voices` over the voices it offers; anything else asks for the WebSocket. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate } from './auth.ts';
import type { EmulatorState } from './state.ts';
import type { EmulatedVoice } from './types.ts';

/** A few voices in Cartesia's shape; the first two are the ones Cartesia's examples and the relay default to. */
export const EMULATOR_VOICES: EmulatedVoice[] = [
  { id: 'a0e99841-438c-4a64-b679-ae501e7d6091', name: 'Barbershop Man', language: 'en' },
  { id: '6ccbfb76-1fc6-48f7-b71d-91ac6298247b', name: 'Tessa', language: 'en' },
  { id: '65b25c5d-ff07-4687-a04c-da2f43ef6fa9', name: 'Helpful French Lady', language: 'fr' },
  { id: 'b9de4a89-2257-424b-94c2-db18ba68c81a', name: 'German Reporter Man', language: 'de' },
];

/** Cartesia's `GET /voices`: `{data, has_more}`, `limit` per page, the next page `starting_after` the last id. */
export function listVoices(state: EmulatorState, req: IncomingMessage, url: URL, res: ServerResponse): void {
  const { apiKeys, tokens, voices } = state.settings;
  const auth = authenticate(req, url, apiKeys, tokens);
  const answer = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (!auth.ok) return answer(401, { error_code: null, title: 'Unauthorized', message: auth.message });
  const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 10) || 10));
  const after = url.searchParams.get('starting_after');
  const start = after ? voices.findIndex((voice) => voice.id === after) + 1 : 0;
  const data = voices.slice(start, start + limit).map((voice) => ({ ...voice, description: '', is_owner: false, access: 'public' }));
  answer(200, { data, has_more: start + limit < voices.length });
}

/** Answers a request that is not a WebSocket upgrade. */
export function handleRest(state: EmulatorState, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'https://localhost');
  if (req.method === 'GET' && url.pathname === '/voices') return listVoices(state, req, url, res);
  res.writeHead(426, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error_code: 'upgrade_required', title: 'Upgrade required', message: 'Connect to /tts/websocket with a WebSocket client.' }));
}
