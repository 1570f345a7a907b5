/**
 * Warm start: the rehearsal utterance a relay runs at start goes through the whole path on a private copy of
 * the relay, and leaves nothing anyone could see: no stream, no metric, no log line at info. The relay serves
 * meanwhile, but answers ready only once it is over, so a balancer sends the first caller to a warm relay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../worker/runtime/node.ts';
import { parseMetrics } from '../runtimes/prometheus.ts';
import { type RelayProcess, startRelayProcess } from '../runtimes/relay-process.ts';
import { startLoggedRelay, type LogLine } from '../support/logged-relay.ts';
import { untilReady } from '../support/readiness.ts';
import { within } from '../support/relay.ts';

const KEY = 'warm-up-admin-key-0123456789';

let relay: RunningRelay | undefined;

afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

async function start(env: Record<string, string>): Promise<{ relay: RunningRelay; logs: LogLine[] }> {
  const started = await startLoggedRelay(KEY, env);
  relay = started.relay;
  return started;
}

function get(base: RunningRelay, path: string): Promise<Response> {
  return fetch(new URL(path, base.url), { headers: { authorization: `Bearer ${KEY}` } });
}

describe('warm-up rehearsal at start', () => {
  it('is still running when the relay is up; the relay serves meanwhile, and answers ready once it and the engine are warm', async () => {
    const { relay } = await start({});
    let over = false;
    void relay.warmedUp.then(() => (over = true));
    expect(over).toBe(false);
    // Both answered while the rehearsal runs: it takes hundreds of milliseconds, these one turn each.
    const [streams, ready, metrics] = await Promise.all([get(relay, '/v1/streams'), get(relay, '/readyz'), get(relay, '/metrics')]);
    expect(streams.status).toBe(200);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, warm: false, accepting: true, provider_healthy: true, hub_healthy: true });
    expect(parseMetrics(await metrics.text()).get('tts_relay_ready')).toBe(0);

    await within(relay.warmedUp, 10_000, 'the warm-up');
    // Then the engine's own warm-up in its thread; ready once both are over.
    const answers = await untilReady(() => get(relay, '/readyz'));
    for (const answer of answers.slice(0, -1)) expect(answer).toMatchObject({ status: 503, body: { warm: false } });
    expect(answers.at(-1)).toMatchObject({ status: 200, body: { ready: true, warm: true } });
  }, 60_000);

  it('leaves no stream, no count in /metrics and no log line at info behind', async () => {
    const { relay, logs } = await start({ LOG_LEVEL: 'info' });
    await within(relay.warmedUp, 10_000, 'the warm-up');
    const startUpLines = logs.length;

    const streams = (await (await get(relay, '/v1/streams')).json()) as { streams: Array<{ stream: string }> };
    expect(streams.streams).toEqual([]);
    const metrics = parseMetrics(await (await get(relay, '/metrics')).text());
    const counted = [...metrics].filter(([name, value]) => /^tts_relay_(utterances|sent_bytes|listener_connections|time_to_first_audio_seconds_count)/.test(name) && value > 0);
    expect(counted).toEqual([]);
    // Only the request for /v1/streams just made (the metrics count at their answer), never the rehearsal's.
    const requests = [...metrics].filter(([name]) => name.startsWith('tts_relay_http_requests_total')).reduce((sum, [, value]) => sum + value, 0);
    expect(requests).toBe(1);
    const lines = logs.slice(0, startUpLines).map((line) => String(line.msg));
    expect(lines.filter((msg) => /request|utterance|warm-up/.test(msg))).toEqual([]);
  });

  it('goes through to its end (it says so at debug)', async () => {
    const { relay, logs } = await start({ LOG_LEVEL: 'debug' });
    await within(relay.warmedUp, 10_000, 'the warm-up');
    expect(logs.map((line) => line.msg)).toContain('warm-up rehearsal done');
    expect(logs.map((line) => line.msg)).not.toContain('warm-up rehearsal failed: the first utterance may be slower');
  });
});

describe.each([
  ['bun', 'loopback'],
  ['deno', 'app'],
] as const)('warm-up rehearsal in a relay process under %s', (runtime, through) => {
  let relayProcess: RelayProcess | undefined;
  afterEach(async () => relayProcess?.kill());

  it(`goes through to its end (${through === 'loopback' ? "over the runtime's own loopback server" : 'calling the app'}) and leaves no stream behind`, async () => {
    const started = await startRelayProcess(runtime, { RELAY_ADMIN_KEY: KEY, LOG_LEVEL: 'debug' });
    relayProcess = started;
    const ended = () => started.logs.find((line) => line.msg.startsWith('warm-up rehearsal'));
    for (const deadline = performance.now() + 15_000; !ended() && performance.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ended()).toMatchObject({ msg: 'warm-up rehearsal done', through });
    const streams = (await (await fetch(new URL('/v1/streams', started.url), { headers: { authorization: `Bearer ${KEY}` } })).json()) as { streams: unknown[] };
    expect(streams.streams).toEqual([]);
  }, 30_000);
});
