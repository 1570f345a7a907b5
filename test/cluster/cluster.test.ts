import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SpeakAccepted, SpeakCompleted } from '../../shared/api.ts';
import { AUDIO_HEADER_BYTES, type UtteranceEnd, type UtteranceStart } from '../../shared/protocol.ts';
import { connectListener, isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { controlledBody, TEST_ADMIN_KEY, within } from '../support/relay.ts';
import { failedStart, relayEnv, type RelayProcess, startRelayProcess } from './relay-process.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

// Short leases so a killed owner is replaced within seconds, yet long enough for an instance busy synthesizing
// on a shared 2-core machine to renew its lease in time.
const LEASE_MS = '3000';
const LONG_TEXT = 'This is a long sentence for the cluster, spoken slowly enough to be interrupted in its middle. It goes on for a while longer still.';

let redis: RedisServer;
const proxies: TcpProxy[] = [];
const relays: RelayProcess[] = [];
const listeners: RecordedListener[] = [];

async function startInstance(index: number): Promise<RelayProcess> {
  proxies[index] ??= await startTcpProxy(redis.port);
  const relay = await startRelayProcess(relayEnv(proxies[index]!.url('redis'), { RELAY_LEASE_MS: LEASE_MS }));
  relays[index] = relay;
  return relay;
}

async function listen(relay: RelayProcess, stream: string, query?: Record<string, string>): Promise<RecordedListener> {
  const listener = await connectListener(relay.url, stream, { key: TEST_ADMIN_KEY, ...(query ? { query } : {}) });
  listeners.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

/** Polls an async condition until it holds; rejects after `ms`. */
async function until(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what} did not hold within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Bytes a listener received over its socket: control messages as text, audio frames with their header. */
function bytesReceived(listener: RecordedListener): number {
  let total = 0;
  for (const event of listener.events) {
    total += event.kind === 'audio' ? AUDIO_HEADER_BYTES + event.frame.payload.byteLength : Buffer.byteLength(JSON.stringify(event.message));
  }
  return total;
}

beforeAll(async () => {
  redis = await startRedisServer();
  await Promise.all([0, 1, 2].map((index) => startInstance(index)));
}, 120_000);

afterEach((context) => {
  for (const listener of listeners.splice(0)) listener.close();
  if (context.task.result?.state === 'fail') {
    for (const [index, relay] of relays.entries()) console.log(`instance ${index} log:\n${relay.logs.filter((line) => !line.includes('"request"')).join('\n')}`);
  }
});

afterAll(async () => {
  await Promise.allSettled(relays.map((relay) => relay.stop()));
  await Promise.allSettled(proxies.map((proxy) => proxy.close()));
  await redis?.stop();
});

describe('three relay instances over one Redis', () => {
  it('gives listeners on every instance byte-identical audio, which crosses Redis once per instance', async () => {
    const [a, b, c] = relays as [RelayProcess, RelayProcess, RelayProcess];
    const onA = [await listen(a, 'spread'), await listen(a, 'spread')];
    const onB = [await listen(b, 'spread')];
    const onC = [await listen(c, 'spread'), await listen(c, 'spread', { encoding: 'pcm_mulaw', sample_rate: '8000' })];
    for (const proxy of proxies) proxy.reset();
    const before = await redis.info('stats');

    const response = await b.speak('spread', 'Hello from instance B. Every instance hears this.', 'wait=true');
    const result = (await response.json()) as SpeakCompleted;
    expect(result).toMatchObject({ reason: 'done' });
    for (const listener of [...onA, ...onB, ...onC]) await listener.waitFor(isEnd);
    const after = await redis.info('stats');

    const reference = onB[0]!.audioOf(result.utterance);
    expect(reference.byteLength).toBeGreaterThan(20_000);
    for (const listener of [...onA, onC[0]!]) {
      expect(Buffer.from(listener.audioOf(result.utterance)).equals(Buffer.from(reference))).toBe(true);
      expect(listener.frames.map((f) => f.sampleOffset)).toEqual(onB[0]!.frames.map((f) => f.sampleOffset));
    }
    const phone = onC[1]!;
    expect(phone.messages.find(isEnd)!.samples).toBe(phone.audioOf(result.utterance).byteLength);

    const sourceBytes = reference.byteLength;
    const rows = [
      { instance: 'A (2 listeners)', listeners: onA },
      { instance: 'B (owner, 1 listener)', listeners: onB },
      { instance: 'C (2 listeners, 2 formats)', listeners: onC },
    ].map(({ instance, listeners: group }, index) => ({
      instance,
      to_redis: proxies[index]!.toServer,
      from_redis: proxies[index]!.fromServer,
      to_listeners: group.reduce((total, listener) => total + bytesReceived(listener), 0),
    }));
    const redisIn = Number(after.total_net_input_bytes) - Number(before.total_net_input_bytes);
    const redisOut = Number(after.total_net_output_bytes) - Number(before.total_net_output_bytes);
    console.log(`traffic for one utterance (${sourceBytes} bytes of source audio, pcm_f32le 22050 Hz):`);
    console.table(rows);
    console.log(`redis-server: ${redisIn} bytes in, ${redisOut} bytes out`);

    // The owner sends the audio to Redis once; each other instance with listeners receives it once, whatever its listener count.
    const owner = rows[1]!;
    expect(owner.to_redis).toBeGreaterThan(sourceBytes);
    expect(owner.to_redis).toBeLessThan(sourceBytes * 1.3);
    for (const row of [rows[0]!, rows[2]!]) {
      expect(row.from_redis).toBeGreaterThan(sourceBytes);
      expect(row.from_redis).toBeLessThan(sourceBytes * 1.3);
    }
    expect(rows[0]!.to_listeners).toBeGreaterThan(2 * sourceBytes);
  });

  it('plays speak requests sent to different instances in one FIFO, in the order they arrived', async () => {
    const [a, b, c] = relays as [RelayProcess, RelayProcess, RelayProcess];
    const listener = await listen(c, 'fifo');
    const texts = ['First, through A.', 'Second, through B.', 'Third, through C.'];
    const accepted: SpeakAccepted[] = [];
    for (const [index, relay] of [a, b, c].entries()) {
      const response = await relay.speak('fifo', texts[index]!);
      expect(response.status).toBe(202);
      accepted.push((await response.json()) as SpeakAccepted);
    }
    expect(accepted.map((x) => x.utterance)).toEqual([...accepted.map((x) => x.utterance)].sort((x, y) => x - y));
    const last = accepted[2]!;
    await listener.waitFor((m) => isEnd(m) && m.utterance_id === last.utterance_id, 20_000);
    const starts = listener.messages.filter(isStart).map((m) => m.utterance_id);
    const ends = listener.messages.filter(isEnd);
    expect(starts).toEqual(accepted.map((x) => x.utterance_id));
    expect(ends.map((m) => [m.utterance_id, m.reason])).toEqual(accepted.map((x) => [x.utterance_id, 'done']));
    // Audio never interleaves: each utterance's frames come between its start and its end.
    let open: number | null = null;
    for (const event of listener.events) {
      if (event.kind === 'message' && event.message.type === 'utterance_start') open = event.message.utterance;
      if (event.kind === 'message' && event.message.type === 'utterance_end') open = null;
      if (event.kind === 'audio') expect(event.frame.utterance).toBe(open);
    }
  });

  it('answers ?wait=true with the outcome reported by the owner instance', async () => {
    const [a, b] = relays as [RelayProcess, RelayProcess];
    const first = await a.speak('waiting', 'Held by A.');
    expect(first.status).toBe(202);
    const response = await b.speak('waiting', 'Queued through B, answered when spoken.', 'wait=true');
    const result = (await response.json()) as SpeakCompleted;
    expect(result).toMatchObject({ reason: 'done', characters: 39 });
    expect(result.audio_seconds).toBeGreaterThan(1);
    expect(result.first_audio_ms).toBeGreaterThan(0);
    expect(result.total_ms).toBeGreaterThan(result.first_audio_ms!);
  });

  it('streams an upload arriving on one instance to the owner on another while it arrives', async () => {
    const [a, , c] = relays as [RelayProcess, RelayProcess, RelayProcess];
    const listener = await listen(a, 'upload');
    expect((await a.speak('upload', 'A holds the stream.')).status).toBe(202);
    const upload = controlledBody();
    const response = c.request('/v1/streams/upload/speak?wait=true', { method: 'POST', body: upload.body, headers: { 'content-type': 'text/plain' }, duplex: 'half' } as RequestInit);
    upload.write('Words typed on instance C, ');
    const second = await listener.waitFor((m): m is UtteranceStart => isStart(m) && m.utterance === 2, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    upload.write('more of them after a pause, ');
    await new Promise((resolve) => setTimeout(resolve, 300));
    upload.write('and the end.');
    upload.end();
    const result = (await (await response).json()) as SpeakCompleted;
    expect(result).toMatchObject({ utterance_id: second.utterance_id, reason: 'done', characters: 67 });
    expect(result.audio_seconds).toBeGreaterThan(2.5);
    const end = await listener.waitFor((m): m is UtteranceEnd => isEnd(m) && m.utterance === 2);
    expect(end.reason).toBe('done');
  });

  it('cancels from any instance: the current utterance and, with all=true, the queue', async () => {
    const [a, b, c] = relays as [RelayProcess, RelayProcess, RelayProcess];
    const listener = await listen(b, 'cancelling');
    const speaking = a.speak('cancelling', LONG_TEXT, 'wait=true');
    await listener.waitFor(isStart);
    const queued = (await (await b.speak('cancelling', 'Never heard.')).json()) as SpeakAccepted;
    const status = (await (await c.request('/v1/streams/cancelling')).json()) as { current: { utterance_id: string } | null; queue: Array<{ utterance_id: string }> };
    expect(status.current).not.toBeNull();
    expect(status.queue.map((x) => x.utterance_id)).toEqual([queued.utterance_id]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cancel = await c.request('/v1/streams/cancelling/cancel?all=true', { method: 'POST' });
    const { cancelled } = (await cancel.json()) as { cancelled: string[] };
    expect(cancelled).toEqual([status.current!.utterance_id, queued.utterance_id]);
    const result = (await (await speaking).json()) as SpeakCompleted;
    expect(result.reason).toBe('cancelled');
    const end = await listener.waitFor(isEnd);
    expect(end).toMatchObject({ utterance_id: status.current!.utterance_id, reason: 'cancelled' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(listener.messages.filter(isStart).map((m) => m.utterance_id)).toEqual([status.current!.utterance_id]);
  });

  it('lets a listener joining late with ?from=utterance on another instance hear the utterance from its first sample', async () => {
    const [a, b, c] = relays as [RelayProcess, RelayProcess, RelayProcess];
    const early = await listen(a, 'late');
    const earlyPhone = await listen(a, 'late', { encoding: 'pcm_s16le', sample_rate: '16000' });
    const speaking = b.speak('late', LONG_TEXT, 'wait=true');
    const start = await early.waitFor(isStart);
    while (early.frames.length < 5) await new Promise((resolve) => setTimeout(resolve, 50));
    const late = await listen(c, 'late', { from: 'utterance' });
    const latePhone = await listen(c, 'late', { from: 'utterance', encoding: 'pcm_s16le', sample_rate: '16000' });
    expect((await (await speaking).json()) as SpeakCompleted).toMatchObject({ reason: 'done' });
    for (const listener of [early, earlyPhone, late, latePhone]) await listener.waitFor(isEnd);
    expect(late.messages.find(isStart)).toMatchObject({ utterance_id: start.utterance_id });
    expect(late.frames[0]!.sampleOffset).toBe(0);
    expect(Buffer.from(late.audioOf(start.utterance)).equals(Buffer.from(early.audioOf(start.utterance)))).toBe(true);
    expect(latePhone.frames[0]!.sampleOffset).toBe(0);
    expect(Buffer.from(latePhone.audioOf(start.utterance)).equals(Buffer.from(earlyPhone.audioOf(start.utterance)))).toBe(true);
    expect(late.messages.find(isEnd)!.samples).toBe(early.messages.find(isEnd)!.samples);
  });

  it('loses no queued utterance when the owner is killed mid-utterance: that one ends in error, the queue goes on elsewhere', async () => {
    const [a, b, c] = relays as [RelayProcess, RelayProcess, RelayProcess];
    const onB = await listen(b, 'failover');
    const onC = await listen(c, 'failover');
    const first = (await (await a.speak('failover', LONG_TEXT)).json()) as SpeakAccepted;
    const second = (await (await b.speak('failover', 'Queued through B, spoken after the failover.')).json()) as SpeakAccepted;
    const third = (await (await c.speak('failover', 'Queued through C, last.')).json()) as SpeakAccepted;
    await onB.waitFor(isStart);
    while (onB.frames.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    await a.kill();
    for (const listener of [onB, onC]) {
      const lost = await listener.waitFor((m) => isEnd(m) && m.utterance_id === first.utterance_id, 15_000);
      expect(lost).toMatchObject({ reason: 'error', error: { code: 'instance_lost' } });
      await listener.waitFor((m) => isEnd(m) && m.utterance_id === third.utterance_id, 20_000);
      const ends = listener.messages.filter(isEnd).map((m) => [m.utterance_id, m.reason]);
      expect(ends).toEqual([
        [first.utterance_id, 'error'],
        [second.utterance_id, 'done'],
        [third.utterance_id, 'done'],
      ]);
    }
    await startInstance(0);
  });

  it('keeps serving local listeners when Redis goes away, reports not ready, and comes back', async () => {
    const b = relays[1]!;
    const proxy = proxies[1]!;
    const listener = await listen(b, 'outage');
    const speaking = b.speak('outage', LONG_TEXT, 'wait=true');
    await listener.waitFor(isStart);
    proxy.cut();
    await until(async () => ((await (await b.request('/readyz')).json()) as { hub_healthy: boolean }).hub_healthy === false, 5000, 'readyz hub_healthy false');
    expect((await b.request('/readyz')).status).toBe(503);
    // The utterance in progress plays to its end for the listener on this instance.
    const end = await listener.waitFor(isEnd, 20_000);
    expect(end.reason).toBe('done');
    expect(listener.audioOf(end.utterance).byteLength).toBeGreaterThan(200_000);
    expect(((await (await speaking).json()) as SpeakCompleted).reason).toBe('done');
    const refused = await b.speak('outage', 'Nobody can queue this.');
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('hub_unavailable');
    proxy.restore();
    await until(async () => (await b.request('/readyz')).status === 200, 15_000, 'readyz 200');
    const again = (await (await b.speak('outage', 'Back again.', 'wait=true')).json()) as SpeakCompleted;
    expect(again.reason).toBe('done');
    const other = await listen(relays[2]!, 'outage');
    const after = (await (await relays[0]!.speak('outage', 'Heard everywhere again.', 'wait=true')).json()) as SpeakCompleted;
    expect(after.reason).toBe('done');
    await other.waitFor((m) => isEnd(m) && m.utterance === after.utterance);
    await listener.waitFor((m) => isEnd(m) && m.utterance === after.utterance);
  });
});

describe('results and cancels across a Redis blip', () => {
  // Off Redis this long, every message published meanwhile lost to it. An origin may stay away 3 s; an owner
  // must be back within its lease (3 s here, renewed every second; 5 s by default), or another instance takes
  // its stream over and ends the utterance with instance_lost.
  const ORIGIN_BLIP_MS = 3000;
  const OWNER_BLIP_MS = 1000;

  it('answers ?wait=true on the origin cut off from Redis while another instance finished its utterance', async () => {
    const [a, b] = relays as [RelayProcess, RelayProcess];
    const listener = await listen(b, 'mail');
    void b.speak('mail', 'This one makes instance B the owner.');
    await listener.waitFor(isStart);
    const waiting = a.speak('mail', 'Queued from instance A, spoken by B.', 'wait=true');
    await listener.waitFor((m) => isStart(m) && m.utterance === 2, 20_000);
    proxies[0]!.cut();
    const end = (await listener.waitFor((m) => isEnd(m) && m.utterance === 2, 20_000)) as UtteranceEnd;
    expect(end.reason).toBe('done');
    await new Promise((resolve) => setTimeout(resolve, ORIGIN_BLIP_MS));
    proxies[0]!.restore();
    const result = await within(waiting, 15_000, 'the answer after the blip');
    expect(((await result.json()) as SpeakCompleted).reason).toBe('done');
  });

  it('applies a cancel sent while the owner was cut off from Redis once it is back', async () => {
    const [a, b] = relays as [RelayProcess, RelayProcess];
    const listener = await listen(a, 'mail-cancel');
    const speaking = b.speak('mail-cancel', `${LONG_TEXT} ${LONG_TEXT}`, 'wait=true');
    await listener.waitFor(isStart, 20_000);
    proxies[1]!.cut();
    expect((await a.request('/v1/streams/mail-cancel/cancel', { method: 'POST' })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, OWNER_BLIP_MS));
    proxies[1]!.restore();
    const answered = (await (await within(speaking, 20_000, 'the cancelled answer')).json()) as SpeakCompleted;
    expect(answered.reason).toBe('cancelled');
    expect((await listener.waitFor(isEnd, 20_000)).reason).toBe('cancelled');
  });
});

describe('starting without Redis', () => {
  it('exits non-zero with an error that names REDIS_URL', async () => {
    const port = await freePort();
    const { code, output } = await failedStart(relayEnv(`redis://127.0.0.1:${port}`));
    expect(code).not.toBe(0);
    expect(output).toContain('REDIS_URL');
    expect(output).toMatch(/ECONNREFUSED|reach Redis/);
  });

  it('refuses HUB=redis without REDIS_URL', async () => {
    const { code, output } = await failedStart({ ...relayEnv(''), REDIS_URL: '' });
    expect(code).toBe(1);
    expect(output).toContain('REDIS_URL');
  });
});
