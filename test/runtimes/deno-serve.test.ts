/** `deno serve` (and Deno Deploy's) entry: the default export `{ fetch }` serves the same relay. */
import { afterAll, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { connectListener, isEnd, type RecordedListener } from '../support/listener-client.ts';
import { within } from '../support/relay.ts';
import { type RelayProcess, startRelayProcess } from './relay-process.ts';

const KEY = 'deno-serve-admin-key-012345';

let relay: RelayProcess | undefined;
let listener: RecordedListener | undefined;

afterAll(async () => {
  listener?.close();
  await relay?.kill();
});

it('speaks to a listener through the default export, and on SIGTERM closes it with 1001 and exits 0', async () => {
  relay = await startRelayProcess('deno-serve', { RELAY_ADMIN_KEY: KEY });
  expect(relay.runtime).toMatch(/^deno /);
  listener = await connectListener(relay.url, 'served', { key: KEY });
  await listener.waitFor((m) => m.type === 'hello');
  const response = await fetch(new URL('/v1/streams/served/speak?wait=true', relay.url), {
    method: 'POST',
    body: 'Served by deno serve.',
    headers: { authorization: `Bearer ${KEY}` },
  });
  const result = (await response.json()) as SpeakCompleted;
  expect(result.reason).toBe('done');
  await within(listener.waitFor(isEnd), 10_000, 'utterance end');
  expect(listener.audioOf(result.utterance).byteLength).toBeGreaterThan(10_000);

  // `deno serve` handles SIGTERM itself too and closes sockets at once ("Server shutting down"): still 1001.
  relay.signal('SIGTERM');
  expect(await within(listener.closed, 5000, 'listener close')).toMatchObject({ code: 1001 });
  expect(await within(relay.exited, 5000, 'exit')).toMatchObject({ code: 0 });
});
