/**
 * Observability: /metrics counts what a test did, the access log has one line per request with its id and
 * no query string, /readyz follows the upstream and the drain.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import type { RunningRelay } from '../../worker/runtime/node.ts';
import { startCartesiaRig, type CartesiaRig } from '../support/cartesia-rig.ts';
import { connectListener, isEnd, type RecordedListener } from '../support/listener-client.ts';
import { startLoggedRelay, type LogLine } from '../support/logged-relay.ts';
import { within } from '../support/relay.ts';
import { parseMetrics } from '../runtimes/prometheus.ts';

const KEY = 'observability-admin-key-0123';

let relay: RunningRelay | undefined;
let rig: CartesiaRig | undefined;
const listeners: RecordedListener[] = [];

afterEach(async () => {
  for (const listener of listeners.splice(0)) listener.close();
  await relay?.close();
  await rig?.close();
  relay = undefined;
  rig = undefined;
});

async function start(env: Record<string, string> = {}): Promise<{ relay: RunningRelay; logs: LogLine[] }> {
  const started = await startLoggedRelay(KEY, env);
  relay = started.relay;
  return started;
}

function request(base: RunningRelay, path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> {
  const { key = KEY, headers, ...rest } = init;
  const all = new Headers(headers);
  if (key !== null) all.set('authorization', `Bearer ${key}`);
  return fetch(new URL(path, base.url), { ...rest, headers: all });
}

/** Retries `check` until it stops throwing; rethrows its last failure after `ms`. */
async function until(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function metricsOf(base: RunningRelay, key = KEY): Promise<Map<string, number>> {
  const response = await request(base, '/metrics', { key });
  expect(response.status).toBe(200);
  return parseMetrics(await response.text());
}

describe('GET /metrics', () => {
  it('counts listeners, utterances by outcome, time to first audio, bytes out and requests', async () => {
    const { relay } = await start();
    const before = await metricsOf(relay);
    expect(before.get('tts_relay_utterances_total{reason="done"}')).toBe(0);
    expect(before.get('tts_relay_listeners')).toBe(0);

    const a = await connectListener(relay.url, 'counted', { key: KEY, query: { encoding: 'pcm_s16le', sample_rate: '16000' } });
    const b = await connectListener(relay.url, 'counted', { key: KEY, query: { encoding: 'pcm_s16le', sample_rate: '16000' } });
    listeners.push(a, b);
    const done = (await (await request(relay, '/v1/streams/counted/speak?wait=true', { method: 'POST', body: 'Counted once.' })).json()) as SpeakCompleted;
    await within(a.waitFor(isEnd), 10_000, 'end at a');
    await within(b.waitFor(isEnd), 10_000, 'end at b');
    const long = request(relay, '/v1/streams/counted/speak?wait=true', { method: 'POST', body: 'This one is cut short. It would go on for a good while longer otherwise.' });
    // Cut once its audio has reached a listener: under load a cut at the first status could land before any audio.
    await until(async () => expect(a.frames.some((f) => f.utterance === 2)).toBe(true));
    await request(relay, '/v1/streams/counted/cancel', { method: 'POST' });
    expect(((await (await long).json()) as SpeakCompleted).reason).toBe('cancelled');
    // Every frame sent before the cut has arrived once its utterance_end has (one socket, in order).
    for (const listener of [a, b]) await within(listener.waitFor((m) => isEnd(m) && m.utterance === 2), 10_000, 'the cut at a listener');
    await request(relay, '/v1/streams/counted/speak', { method: 'POST', body: 'x', key: 'wrong-key-0123456789abc' });

    const after = await metricsOf(relay);
    expect(after.get('tts_relay_listeners')).toBe(2);
    expect(after.get('tts_relay_streams')).toBe(1);
    expect(after.get('tts_relay_listener_connections_total')).toBe(2);
    expect(after.get('tts_relay_utterances_total{reason="done"}')).toBe(1);
    expect(after.get('tts_relay_utterances_total{reason="cancelled"}')).toBe(1);
    expect(after.get('tts_relay_utterances_total{reason="error"}')).toBe(0);
    // Both utterances made audio; the first within the first bucket that holds its figure.
    expect(after.get('tts_relay_time_to_first_audio_seconds_count')).toBe(2);
    const firstAudio = done.first_audio_ms! / 1000;
    const bucket = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10].find((le) => firstAudio <= le)!;
    expect(after.get(`tts_relay_time_to_first_audio_seconds_bucket{le="${bucket}"}`)).toBeGreaterThanOrEqual(1);
    expect(after.get('tts_relay_time_to_first_audio_seconds_bucket{le="+Inf"}')).toBe(2);
    // Every audio byte both listeners got, and the 12-byte frame headers, and nothing else.
    const audioBytes = [a, b].reduce((sum, l) => sum + l.frames.reduce((n, f) => n + f.payload.byteLength + 12, 0), 0);
    expect(after.get('tts_relay_sent_bytes_total{kind="audio"}')).toBe(audioBytes);
    expect(after.get('tts_relay_sent_bytes_total{kind="control"}')).toBeGreaterThan(0);
    expect(after.get('tts_relay_http_requests_total{method="POST",status="200"}')).toBe(3);
    expect(after.get('tts_relay_http_requests_total{method="POST",status="401"}')).toBe(1);
    expect(after.get('tts_relay_http_requests_total{method="GET",status="101"}')).toBe(2);
    expect(after.get('tts_relay_slow_listeners_dropped_total')).toBe(0);
  });

  it('is for the admin key only: 401 without a credential, 403 for a stream token', async () => {
    const { relay } = await start();
    expect((await request(relay, '/metrics', { key: null })).status).toBe(401);
    const minted = await request(relay, '/v1/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ streams: ['*'], actions: ['speak', 'listen'] }),
    });
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    const refused = await request(relay, '/metrics', { key: token });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  });
});

describe('the access log', () => {
  it('has one line per request: method, path without the query, status, duration and the request id it answered with', async () => {
    const { relay, logs } = await start();
    const response = await request(relay, '/v1/streams/logged/speak?wait=true&voice=en-us', {
      method: 'POST',
      body: 'Logged.',
      headers: { 'x-request-id': 'caller-chosen-id-42' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('caller-chosen-id-42');
    const missing = await request(relay, '/nowhere?token=secret-looking-value', { key: null });
    expect(missing.status).toBe(404);
    const generated = missing.headers.get('x-request-id');

    const lines = logs.filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', request_id: 'caller-chosen-id-42', method: 'POST', path: '/v1/streams/logged/speak', status: 200 });
    expect(lines[0]!.duration_ms).toEqual(expect.any(Number));
    expect(lines[1]).toMatchObject({ request_id: generated, method: 'GET', path: '/nowhere', status: 404 });
    expect(JSON.stringify(logs)).not.toContain('secret-looking-value');
  });
});

describe('GET /readyz', () => {
  it('answers 503 while the upstream cannot be reached, 200 again once it can, and counts the upstream errors', async () => {
    rig = await startCartesiaRig();
    const get = (path: string) => fetch(new URL(path, rig!.relay.url));
    expect((await rig.speakAndWait('ready', 'Upstream is fine.')).reason).toBe('done');
    // Ready once the warm-up rehearsal at start is over.
    await until(async () => expect((await get('/readyz')).status).toBe(200));

    rig.emulator.setFaults({ rejectUpgrades: { status: 503, times: 1000 } });
    rig.emulator.dropConnections();
    const failed = await rig.speakAndWait('ready', 'Upstream is gone.');
    expect(failed.reason).toBe('error');
    const notReady = await get('/readyz');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ ready: false, accepting: true, provider: 'cartesia', provider_healthy: false });
    expect((await get('/healthz')).status).toBe(200);
    const metrics = parseMetrics(await (await rig.get('/metrics')).text());
    expect(metrics.get('tts_relay_ready')).toBe(0);
    expect(metrics.get(`tts_relay_upstream_errors_total{code="${failed.error!.code}"}`)).toBe(1);
    expect(failed.error!.code).toMatch(/^upstream_/);

    rig.emulator.setFaults({ rejectUpgrades: { status: 503, times: 0 } });
    await until(async () => expect((await rig!.speakAndWait('ready', 'Upstream is back.')).reason).toBe('done'), 15_000);
    expect((await get('/readyz')).status).toBe(200);
  });

  it('answers 503 as soon as a shutdown begins, while what is in flight goes on', async () => {
    const { relay } = await start({ RELAY_DRAIN_MS: '3000' });
    await until(async () => expect((await request(relay, '/readyz', { key: null })).status).toBe(200), 40_000);
    const speaking = request(relay, '/v1/streams/drain/speak?wait=true', { method: 'POST', body: 'Still speaking while the relay drains.' });
    await until(async () => expect(((await (await request(relay, '/v1/streams/drain')).json()) as { current: unknown }).current).toBeTruthy());
    const shutdown = relay.shutdown('SIGTERM');
    const ready = await request(relay, '/readyz', { key: null }).catch(() => null);
    // The listener may already be closed (Node stops accepting at once); if it answered, it said not ready.
    if (ready) {
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, accepting: false });
    }
    expect(((await (await speaking).json()) as SpeakCompleted).reason).toBe('done');
    expect(await shutdown).toMatchObject({ signal: 'SIGTERM', drained: true });
  }, 60_000);
});
