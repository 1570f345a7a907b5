/**
 * The instance-wide budget for listeners' unsent audio, on a real relay with real sockets: listeners that stop reading
 * are each within their own (hour-long) allowance, yet together they pass RELAY_LISTENER_BUFFER_BUDGET_MB, and the
 * fullest is dropped while a reading listener keeps getting audio.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectListener, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';

const FORMAT = { encoding: 'pcm_f32le', sample_rate: '48000' };
const TEXT = Array.from({ length: 7 }, (_, i) => `This is sentence number ${i + 1} of a long announcement that keeps the audio flowing for a while.`).join(' ');

let relay: TestRelay;
const listeners: RecordedListener[] = [];

beforeAll(async () => {
  // A lead this long hands each listener seconds of audio at once: past the kernel's socket buffers (~4 MB) soonest.
  relay = await startTestRelay({ RELAY_LISTENER_MAX_BUFFERED_SECONDS: '3600', RELAY_LISTENER_BUFFER_BUDGET_MB: '1', RELAY_PLAYOUT_LEAD_MS: '1500' });
});

afterAll(async () => {
  for (const listener of listeners) listener.close();
  await relay?.close();
});

it('drops listeners that stopped reading once together they hold more than the budget, the fullest first, and only them', async () => {
  const connect = async () => {
    const listener = await connectListener(relay.url, 'hall', { key: TEST_ADMIN_KEY, query: FORMAT });
    listeners.push(listener);
    await listener.waitFor((m) => m.type === 'hello');
    return listener;
  };
  const [reading, stalledEarly] = [await connect(), await connect()];
  stalledEarly.socket.pause();
  const spoken = await relay.speak('hall', TEXT);
  expect(spoken.status).toBe(202);
  // A second reader stops a little later: it holds less when the budget is passed.
  await reading.waitFor((m) => m.type === 'utterance_start');
  const stalledLate = await connect();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  stalledLate.socket.pause();

  await within(
    (async () => {
      while (relay.relay.listeners.count('hall') > 2) await new Promise((resolve) => setTimeout(resolve, 50));
    })(),
    60_000,
    'a listener dropped for the budget',
  );
  stalledEarly.socket.resume();
  expect(await within(stalledEarly.closed, 10_000, 'close at the fullest listener')).toEqual({ code: 4008, reason: 'slow_listener' });
  // The reader is never dropped and keeps getting audio after the drop.
  const frames = reading.frames.length;
  await within(
    (async () => {
      while (reading.frames.length === frames) await new Promise((resolve) => setTimeout(resolve, 50));
    })(),
    10_000,
    'audio after the drop',
  );
  expect(reading.socket.readyState).toBe(reading.socket.OPEN);
  await relay.request('/v1/streams/hall/cancel', { method: 'POST' });
}, 90_000);
