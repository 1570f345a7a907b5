/**
 * Two real agents (`tts-agent listen`, ffplay) in two rooms of a private PulseAudio daemon, recorded on one clock: in
 * step under faults (the kitchen behind a link of 150 ± 40 ms each way, the hall's wall clock 700 ms ahead), with
 * --latency-ms, across a stall of the link longer than the sync delay, and at a cancel. The bounds are what holds on a
 * busy machine and still tells sync from none (without it the rooms are the link's 150 ms and more apart); the figures
 * are printed, and `npm run bench -- sync` measures them at their precision.
 */
import { loadavg } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimingMessage, UtteranceEnd } from '../../shared/protocol.ts';
import { runScenario, startSyncRig, type ScenarioName, type ScenarioResult, type SyncRig } from '../bench/measures/sync.ts';
import { offsetMs, offsetsInWindows, offsetStats } from '../support/room-analysis.ts';
import { recordRooms, startRoomAgents } from '../support/room-sync.ts';
import { TEST_ADMIN_KEY } from '../support/relay.ts';

/** The sync delay the faults need: 150 ± 40 ms of link beside ffplay's ~160 ms queue (README, Several rooms). */
const SYNC_DELAY_MS = 500;
const TEXTS = ['The kitchen and the hall.', 'Dinner is ready.', 'The front door is open.', 'It is raining outside.'];
/** Rooms in step at any load: far inside the link's own delay, which unsynced rooms would be apart by. */
const IN_STEP_MS = 50;
const WARM_UP = 'Warm up. Both rooms are getting ready for the announcement that follows.';
const LONG = 'This announcement is long enough to be cut in the middle, well before the end of what it has to say to everybody.';

let rig: SyncRig;

beforeAll(async () => {
  rig = await startSyncRig(SYNC_DELAY_MS);
}, 60_000);

afterAll(async () => {
  await rig?.close();
});

function report(result: ScenarioResult, expected: number): void {
  const errors = result.utterances.map((u) => (u.offsetMs === null ? Number.NaN : u.offsetMs - expected));
  const stats = offsetStats(errors.filter(Number.isFinite));
  const heard = result.utterances.map((u) => `${u.heardMs.kitchen ?? '–'}/${u.heardMs.hall ?? '–'}`).join(', ');
  console.info(
    `load ${loadavg()[0]!.toFixed(1)}, ${result.label}: hall − kitchen ${expected === 0 ? '' : `− (${expected}) `}per utterance ` +
      `${errors.map((e) => e.toFixed(2)).join(', ')} ms; |·| median ${stats.median.toFixed(2)}, max ${stats.max.toFixed(2)}; ` +
      `heard ms kitchen/hall ${heard}; playout ${JSON.stringify(result.playout)}`,
  );
}

async function scenario(name: ScenarioName, expected = 0, from = 0): Promise<void> {
  const result = await runScenario(rig, name, TEXTS, SYNC_DELAY_MS);
  report(result, expected);
  const measured = result.utterances.slice(from);
  // Heard whole in both rooms (within 5 %): the offset of a stretch one room partly dropped as late says nothing. On this
  // link a room still drops audio as late now and then (issue 12 is open on it; the bench counts it), so at least half
  // of a scenario's utterances must be whole; those are the same utterance at once, and in step as a rule.
  const whole = measured.filter(({ heardMs: { kitchen, hall } }) => kitchen !== null && hall !== null && Math.min(kitchen, hall) / Math.max(kitchen, hall) > 0.95);
  const errors = whole.flatMap((u) => (u.offsetMs === null ? [] : [u.offsetMs - expected]));
  const said = `${name}: ${errors.map((e) => e.toFixed(2)).join(', ')} (${measured.length - whole.length} of ${measured.length} not heard whole in a room)`;
  expect(errors.length, said).toBeGreaterThanOrEqual(Math.ceil(measured.length / 2));
  for (const error of errors) expect(Math.abs(error), said).toBeLessThan(SYNC_DELAY_MS / 2);
  expect(offsetStats(errors).median, said).toBeLessThan(IN_STEP_MS);
}

describe('two agents in two rooms, at the sound device', () => {
  it('are in step with one behind a jittery link and the other on a clock 700 ms ahead', async () => {
    await scenario('faults');
  }, 120_000);

  it('hear one agent --latency-ms 120 that much sooner (its device taken to lag 120 ms)', async () => {
    await scenario('latency', 120);
  }, 120_000);

  it('recover in step after the link stalls for longer than the sync delay', async () => {
    // The stall falls in the second utterance; the third and fourth are the figures.
    await scenario('stall', 0, 2);
  }, 120_000);

  it('fall silent at a cancel together', async () => {
    // On a clean link (the faults have their scenario above): what is measured is where each room falls silent.
    const pair = await startRoomAgents(rig.rooms, [
      { room: 'kitchen', url: rig.relay.url, stream: 'house', token: TEST_ADMIN_KEY, args: ['--sync', 'on'] },
      { room: 'hall', url: rig.relay.url, stream: 'house', token: TEST_ADMIN_KEY, args: ['--sync', 'on'], skew: '+0.7s' },
    ]);
    try {
      // As in the scenarios, a first utterance unrecorded, and a long one: ffplay's first seconds of readings at
      // PulseAudio can be tens of ms off (README, Several rooms), and a cut a second into the next utterance would
      // measure how soon each agent's output clock settles rather than the cut.
      await (await rig.relay.speak('house', WARM_UP, { query: 'wait=true' })).text();
      const timing = await rig.relay.listen('house', { timing: 'true' });
      let window = { from: 0, to: 0 };
      const capture = await recordRooms(
        rig.rooms,
        async () => {
          const from = Date.now();
          const speaking = rig.relay.speak('house', LONG, { query: 'wait=true' });
          const start = (await timing.waitFor((m) => m.type === 'timing', 30_000)) as TimingMessage;
          // Cut once a second of it has been heard (on the relay's clock: this process's).
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, start.at + 1000 - Date.now())));
          await rig.relay.request('/v1/streams/house/cancel', { method: 'POST' });
          await (await speaking).text();
          const end = (await timing.waitFor((m) => m.type === 'utterance_end', 30_000)) as UtteranceEnd;
          expect(end.reason).toBe('cancelled');
          window = { from, to: end.at! + SYNC_DELAY_MS };
        },
        SYNC_DELAY_MS + 1000,
      );
      timing.close();
      const [heard] = offsetsInWindows(capture, [window]);
      expect(heard!.kitchen, 'the kitchen heard the start').not.toBeNull();
      expect(heard!.hall, 'the hall heard the start').not.toBeNull();
      const { kitchen, hall } = { kitchen: heard!.kitchen!, hall: heard!.hall! };
      const at = (ms: number) => Math.round((ms * capture.rate) / 1000);
      const between = offsetMs(capture.kitchen, capture.hall, capture.rate, at(kitchen.onsetMs), at(kitchen.endMs), 250);
      console.info(
        `load ${loadavg()[0]!.toFixed(1)}, cancel: heard ${(kitchen.endMs - kitchen.onsetMs).toFixed(1)} ms in the kitchen, ` +
          `${(hall.endMs - hall.onsetMs).toFixed(1)} in the hall; silent ${(hall.endMs - kitchen.endMs).toFixed(2)} ms apart, ` +
          `in step to ${between.toFixed(2)} ms before the cut`,
      );
      // Cut in the middle: about a second heard of several, and the silence falls in both rooms at once.
      expect(kitchen.endMs - kitchen.onsetMs).toBeLessThan(3000);
      expect(Math.abs(between)).toBeLessThan(IN_STEP_MS);
      expect(Math.abs(hall.endMs - kitchen.endMs)).toBeLessThan(IN_STEP_MS);
    } finally {
      await pair.stop();
    }
  }, 120_000);
});
