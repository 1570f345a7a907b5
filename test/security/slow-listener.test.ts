import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectListener, isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';

// The widest format makes the most bytes per second of speech, so the stalled socket fills soonest.
const FORMAT = { encoding: 'pcm_f32le', sample_rate: '48000' };
const TEXT = Array.from({ length: 7 }, (_, i) => `This is sentence number ${i + 1} of a long announcement that keeps the audio flowing for a while.`).join(' ');
// Linux soaks up some 4 MB into a stalled socket (the sender's buffer autotunes up to tcp_wmem's maximum):
// about 20 s of this format at real-time pace before the relay's own buffer starts to grow. A larger
// playout lead would get there sooner, but a burst bigger than the bound drops healthy listeners too.
const LEAD_MS = 1500;

let relay: TestRelay;
const listeners: RecordedListener[] = [];

beforeAll(async () => {
  relay = await startTestRelay({ RELAY_LISTENER_MAX_BUFFERED_SECONDS: '1', RELAY_PLAYOUT_LEAD_MS: String(LEAD_MS) });
});

afterAll(async () => {
  for (const listener of listeners) listener.close();
  await relay?.close();
});

it('drops a listener that stops reading (close 4008 slow_listener) while another keeps getting audio on time', async () => {
  const fast = await connectListener(relay.url, 'hall', { key: TEST_ADMIN_KEY, query: FORMAT });
  const slow = await connectListener(relay.url, 'hall', { key: TEST_ADMIN_KEY, query: FORMAT });
  listeners.push(fast, slow);
  await fast.waitFor((m) => m.type === 'hello');
  await slow.waitFor((m) => m.type === 'hello');
  // Stop reading from TCP: the kernel buffers fill, then the relay's send buffer grows past its bound.
  slow.socket.pause();

  const arrivals: Array<{ at: number; endSample: number }> = [];
  let startedAt = 0;
  fast.socket.on('message', (data, isBinary) => {
    if (!isBinary) return;
    if (startedAt === 0) startedAt = performance.now();
    const bytes = data as Buffer;
    const offset = bytes.readUInt32LE(8);
    arrivals.push({ at: performance.now() - startedAt, endSample: offset + (bytes.byteLength - 12) / 4 });
  });

  const response = await relay.speak('hall', TEXT);
  expect(response.status).toBe(202);
  const { utterance } = (await response.json()) as { utterance: number };

  // A paused client reads no close frame either: watch the relay let go of it, then read what is left.
  const droppedAt = await within(
    (async () => {
      while (relay.relay.listeners.count('hall') > 1) await new Promise((resolve) => setTimeout(resolve, 20));
      return performance.now() - startedAt;
    })(),
    45_000,
    'slow listener drop',
  );
  slow.socket.resume();
  expect(await within(slow.closed, 10_000, 'close frame at the slow listener')).toEqual({ code: 4008, reason: 'slow_listener' });

  // Keep listening a while after the drop, then stop the speech rather than wait for all of it.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect((await relay.request('/v1/streams/hall/cancel', { method: 'POST' })).status).toBe(200);
  const end = await within(fast.waitFor(isEnd, 10_000), 10_000, 'utterance end at the fast listener');
  expect(end).toMatchObject({ reason: 'cancelled', utterance });
  expect(end.samples).toBe(fast.audioOf(utterance).byteLength / 4);
  expect(fast.messages.filter(isStart)).toHaveLength(1);

  // On time: every frame arrived no later than real time (with a little scheduling slack), before and after the drop.
  const lateness = arrivals.map(({ at, endSample }) => at / 1000 - endSample / 48_000);
  expect(Math.max(...lateness)).toBeLessThan(0.5);
  expect(arrivals.some((a) => a.at > droppedAt + 2000)).toBe(true);
  expect(relay.relay.listeners.count('hall')).toBe(1);
}, 90_000);
