/**
 * Rooms in step, measured at the sound device: two real agents (ffplay into two PulseAudio rooms, recorded on one
 * clock) on one stream, the offset between the rooms per utterance by cross-correlation, with and without faults
 * (the kitchen behind a link adding 150 ± 40 ms each way, the hall's wall clock 700 ms ahead), with --latency-ms 120
 * on the kitchen, and across a stall of the kitchen's link longer than the sync delay; and the first audio heard
 * (speak request → first sound in the room) with --sync on against --sync off: what sync costs.
 * `sync-drift` repeats the faults scenario for minutes, one utterance every 10 s: the offset over time.
 */
import { startPulseRooms, type PulseRooms } from '../../support/pulse-rooms.ts';
import { offsetsInWindows, type WindowOffset } from '../../support/room-analysis.ts';
import { recordRooms, startRoomAgents, type ClockLine, type RoomAgent, type RoomAgentOptions } from '../../support/room-sync.ts';
import type { TimingMessage } from '../../../shared/protocol.ts';
import type { RecordedListener } from '../../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../../support/relay.ts';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';
import type { Curve } from '../plot.ts';
import { row, type Row } from '../report.ts';
import { median, quantile, round } from '../stats.ts';

/** The bench's figures are its own item, after issue 18's six. */
const ITEM = 7;
const TEXTS = ['The kitchen and the hall.', 'Dinner is ready.', 'The front door is open.', 'It is raining outside.', 'The washing machine has finished.', 'Someone is at the door.'];
const LINK = { ms: 150, jitterMs: 40 };
/** Between one utterance's presented end and the next: each one alone in its window, in both rooms. */
const PAUSE_MS = 700;

export interface SyncPlan {
  utterances: number;
  scenarios: ScenarioName[];
  /** The relay's RELAY_SYNC_DELAY_MS for the scenarios (150 ± 40 ms of link and ffplay's ~160 ms need more than 250). */
  syncDelayMs: number;
}

export type ScenarioName = 'clean' | 'faults' | 'latency' | 'stall' | 'unsynced';

interface Scenario {
  name: ScenarioName;
  label: string;
  kitchen: { proxied?: boolean; args?: string[] };
  hall: { skew?: string; args?: string[] };
  /** Stall the kitchen's link for this long during the utterance of this index (the one after is the figure). */
  stall?: { utterance: number; ms: number };
}

const SCENARIOS: Record<ScenarioName, (delayMs: number) => Scenario> = {
  clean: () => ({ name: 'clean', label: 'no faults', kitchen: {}, hall: {} }),
  faults: () => ({ name: 'faults', label: 'kitchen link 150 ± 40 ms, hall clock +700 ms', kitchen: { proxied: true }, hall: { skew: '+0.7s' } }),
  latency: () => ({ name: 'latency', label: 'kitchen --latency-ms 120', kitchen: { args: ['--latency-ms', '120'] }, hall: {} }),
  stall: (delayMs) => ({ name: 'stall', label: `kitchen link stalls ${delayMs + 300} ms`, kitchen: { proxied: true }, hall: { skew: '+0.7s' }, stall: { utterance: 1, ms: delayMs + 300 } }),
  unsynced: () => ({ name: 'unsynced', label: '--sync off in both rooms', kitchen: { args: ['--sync', 'off'] }, hall: { args: ['--sync', 'off'] } }),
};

export interface UtteranceFigures {
  /** ms since the scenario's first utterance was sent. */
  sentMs: number;
  offsetMs: number | null;
  /** Speak request sent → first sound in each room, ms (null: not heard). */
  firstAudioMs: { kitchen: number | null; hall: number | null };
  /** Sound heard in each room, ms (a room that dropped audio heard less). */
  heardMs: { kitchen: number | null; hall: number | null };
}

export interface ScenarioResult {
  name: ScenarioName;
  label: string;
  utterances: UtteranceFigures[];
  playout: Record<'kitchen' | 'hall', { late_samples: number; skips: number; inserted: number; dropped: number } | null>;
  /** Each agent's relay-clock estimate as it stood at the end (its --json clock line). */
  clock: Record<'kitchen' | 'hall', Omit<ClockLine, 'type'> | null>;
}

export interface SyncRig {
  rooms: PulseRooms;
  relay: TestRelay;
  proxy: TcpProxy;
  close(): Promise<void>;
}

export async function startSyncRig(syncDelayMs: number): Promise<SyncRig> {
  const [rooms, relay] = await Promise.all([startPulseRooms(), startTestRelay({ RELAY_SYNC_DELAY_MS: String(syncDelayMs), LOG_LEVEL: 'error' })]);
  const proxy = await startTcpProxy(Number(new URL(relay.url).port), { down: LINK, up: LINK });
  return {
    rooms,
    relay,
    proxy,
    async close() {
      await proxy.close();
      await relay.close();
      await rooms.close();
    },
  };
}

interface Spoken {
  utterance: number;
  audioSeconds: number;
}

async function speak(relay: TestRelay, text: string): Promise<Spoken> {
  const response = await relay.speak('house', text, { query: 'wait=true' });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`speak answered ${response.status}: ${body}`);
  const result = JSON.parse(body) as { utterance: number; audio_seconds: number };
  return { utterance: result.utterance, audioSeconds: result.audio_seconds };
}

/** Where an utterance lies on the relay's timeline (epoch ms: the relay runs in this process). */
interface Placed {
  sentAt: number;
  at: number;
  endAt: number;
}

/** When `spoken` is presented, from a timing listener's first anchor of it. */
async function placed(timing: RecordedListener, spoken: Spoken, sentAt: number): Promise<Placed> {
  const anchor = (await timing.waitFor((m) => m.type === 'timing' && m.utterance === spoken.utterance && m.sample === 0)) as TimingMessage;
  return { sentAt, at: anchor.at, endAt: anchor.at + spoken.audioSeconds * 1000 };
}

function agentOptions(rig: SyncRig, scenario: Scenario): RoomAgentOptions[] {
  const common = { stream: 'house', token: TEST_ADMIN_KEY };
  const sync = (args: string[] = []) => (args.includes('--sync') ? args : ['--sync', 'on', ...args]);
  return [
    { ...common, room: 'kitchen', url: scenario.kitchen.proxied ? rig.proxy.url() : rig.relay.url, args: sync(scenario.kitchen.args) },
    { ...common, room: 'hall', url: rig.relay.url, args: sync(scenario.hall.args), ...(scenario.hall.skew ? { skew: scenario.hall.skew } : {}) },
  ];
}

/**
 * Speaks `texts` in turn, each once the one before has been presented and PAUSE_MS more (or `spacingMs` after the
 * one before was sent), so no two overlap in any room; returns where each was placed.
 */
async function speakAll(rig: SyncRig, timing: RecordedListener, texts: string[], scenario: Scenario, spacingMs: number): Promise<Placed[]> {
  const all: Placed[] = [];
  for (const [index, text] of texts.entries()) {
    const sentAt = Date.now();
    const spoken = speak(rig.relay, text);
    if (scenario.stall?.utterance === index) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await rig.proxy.stall(scenario.stall.ms);
    }
    const one = await placed(timing, await spoken, sentAt);
    all.push(one);
    const next = Math.max(one.endAt + PAUSE_MS, sentAt + spacingMs);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
  return all;
}

function figuresOf(offsets: WindowOffset[], placements: Placed[], startedAt: number): UtteranceFigures[] {
  const sent = placements.map((p) => p.sentAt);
  const since = (heard: { onsetMs: number } | null, at: number) => (heard === null ? null : round(startedAt + heard.onsetMs - at, 1));
  const length = (heard: { onsetMs: number; endMs: number } | null) => (heard === null ? null : round(heard.endMs - heard.onsetMs, 1));
  return offsets.map((o, i) => ({
    sentMs: sent[i]! - sent[0]!,
    offsetMs: o.offsetMs === null ? null : round(o.offsetMs, 3),
    firstAudioMs: { kitchen: since(o.kitchen, sent[i]!), hall: since(o.hall, sent[i]!) },
    heardMs: { kitchen: length(o.kitchen), hall: length(o.hall) },
  }));
}

function playoutOf(agent: RoomAgent | undefined): ScenarioResult['playout']['kitchen'] {
  const lines = agent?.playouts ?? [];
  if (lines.length === 0) return null;
  const last = lines.at(-1)!;
  return { late_samples: last.late_samples, skips: last.skips, inserted: last.inserted_samples, dropped: last.dropped_samples };
}

function clockOf(agent: RoomAgent | undefined): ScenarioResult['clock']['kitchen'] {
  const last = agent?.clocks.at(-1);
  if (last === undefined) return null;
  const { type: _type, ...estimate } = last;
  return estimate;
}

/** One scenario: both agents started, a warm-up utterance unrecorded, then `texts` recorded and measured. */
export async function runScenario(rig: SyncRig, name: ScenarioName, texts: string[], syncDelayMs: number, spacingMs = 0): Promise<ScenarioResult> {
  const scenario = SCENARIOS[name](syncDelayMs);
  const pair = await startRoomAgents(rig.rooms, agentOptions(rig, scenario));
  try {
    const warm = await speak(rig.relay, 'Warm up.');
    await new Promise((resolve) => setTimeout(resolve, warm.audioSeconds * 1000 + syncDelayMs + PAUSE_MS));
    const timing = await rig.relay.listen('house', { timing: 'true' });
    let placements: Placed[] = [];
    const capture = await recordRooms(rig.rooms, async () => void (placements = await speakAll(rig, timing, texts, scenario, spacingMs)), 500);
    timing.close();
    // Each utterance's window: from its request (an agent with --sync off plays at once; the one before has been
    // over PAUSE_MS by then) to well after it is due to end (--latency-ms 120, a room that lags).
    const windows = placements.map((p) => ({ from: p.sentAt, to: p.endAt + PAUSE_MS / 2 }));
    const utterances = figuresOf(offsetsInWindows(capture, windows), placements, capture.startedAt);
    const clock = { kitchen: clockOf(pair.agents[0]), hall: clockOf(pair.agents[1]) };
    return { name, label: scenario.label, utterances, playout: { kitchen: playoutOf(pair.agents[0]), hall: playoutOf(pair.agents[1]) }, clock };
  } finally {
    await pair.stop();
  }
}

export async function measureSync(plan: SyncPlan, log: (line: string) => void): Promise<ScenarioResult[]> {
  const rig = await startSyncRig(plan.syncDelayMs);
  const texts = Array.from({ length: plan.utterances }, (_, i) => TEXTS[i % TEXTS.length]!);
  const results: ScenarioResult[] = [];
  try {
    for (const name of plan.scenarios) {
      log(`sync: ${name}`);
      results.push(await runScenario(rig, name, texts, plan.syncDelayMs));
    }
  } finally {
    await rig.close();
  }
  return results;
}

const stat = (values: number[], q: number) => (values.length === 0 ? null : round(quantile([...values].sort((a, b) => a - b), q), 2));

/** Per scenario: |offset| median, p95, max; utterances missing or cut short in a room; first audio (sync vs not). */
export function syncRows(results: ScenarioResult[], syncDelayMs: number): Row[] {
  const rows: Row[] = [];
  const base = { item: ITEM, baseline: null, baselineName: '' };
  for (const result of results) {
    const measured = result.name === 'stall' ? result.utterances.slice(2) : result.utterances;
    // --latency-ms 120 on the kitchen: the agent plays it 120 ms sooner than the hall, for a device that lags that
    // much (on the null sinks here nothing lags: hall − kitchen = +120).
    const expected = result.name === 'latency' ? 120 : 0;
    const errors = measured.flatMap((u) => (u.offsetMs === null ? [] : [Math.abs(u.offsetMs - expected)]));
    const missing = measured.filter((u) => u.offsetMs === null).length;
    const short = measured.filter((u) => u.heardMs.kitchen !== null && u.heardMs.hall !== null && Math.abs(u.heardMs.kitchen - u.heardMs.hall) > 50).length;
    const what = result.name === 'latency' ? `|hall − kitchen − 120|` : '|hall − kitchen|';
    const note = `${measured.length} utterances, ${missing} missing in a room, ${short} cut short (> 50 ms less) in one; late ms ${['kitchen', 'hall'].map((r) => round(((result.playout[r as 'kitchen']?.late_samples ?? 0) * 1000) / 22050, 0)).join('/')}, skips ${result.playout.kitchen?.skips ?? '—'}/${result.playout.hall?.skips ?? '—'}; sync delay ${syncDelayMs} ms`;
    if (result.name !== 'unsynced') {
      rows.push(row({ ...base, figure: `rooms ${what}, median — ${result.label}`, unit: 'ms', relay: stat(errors, 0.5), target: '≤ 2 (goal 1)', note }));
      rows.push(row({ ...base, figure: `rooms ${what}, p95 — ${result.label}`, unit: 'ms', relay: stat(errors, 0.95) }));
      rows.push(row({ ...base, figure: `rooms ${what}, max — ${result.label}`, unit: 'ms', relay: errors.length ? round(Math.max(...errors), 2) : null }));
    }
  }
  const firstAudio = (name: ScenarioName) => {
    const result = results.find((r) => r.name === name);
    const values = result?.utterances.flatMap((u) => (u.firstAudioMs.hall === null ? [] : [u.firstAudioMs.hall])) ?? [];
    return values.length ? round(median(values), 1) : null;
  };
  const on = firstAudio('clean');
  const off = firstAudio('unsynced');
  if (on !== null || off !== null) {
    rows.push(row({ ...base, figure: 'speak → first sound in the room, --sync on (median)', unit: 'ms', relay: on, baseline: off, baselineName: '--sync off', ratio: null, note: `sync delay ${syncDelayMs} ms; the difference is what sync costs` }));
  }
  return rows;
}

/** The offset over time, one point per utterance. */
export function driftCurve(result: ScenarioResult): Curve {
  const points = result.utterances.flatMap((u) => (u.offsetMs === null ? [] : [{ x: Math.max(1, u.sentMs / 1000), y: Math.abs(u.offsetMs), lo: Math.abs(u.offsetMs), hi: Math.abs(u.offsetMs) }]));
  return { id: 'sync-drift', title: 'Offset between two rooms over time', xLabel: 'seconds since the first utterance', yLabel: '|hall − kitchen| (ms)', series: [{ name: result.label, points }] };
}

/** `sync-drift`: the faults scenario, one utterance every `spacingMs` for `minutes`. */
export async function measureDrift(minutes: number, syncDelayMs: number, log: (line: string) => void): Promise<ScenarioResult> {
  const spacingMs = 10_000;
  const count = Math.max(2, Math.round((minutes * 60_000) / spacingMs));
  const rig = await startSyncRig(syncDelayMs);
  try {
    log(`sync-drift: ${count} utterances, one every ${spacingMs / 1000} s`);
    return await runScenario(rig, 'faults', Array.from({ length: count }, (_, i) => TEXTS[i % TEXTS.length]!), syncDelayMs, spacingMs);
  } finally {
    await rig.close();
  }
}

export function driftRows(result: ScenarioResult, minutes: number): Row[] {
  const base = { item: ITEM, baseline: null, baselineName: '' };
  const abs = (list: UtteranceFigures[]) => list.flatMap((u) => (u.offsetMs === null ? [] : [Math.abs(u.offsetMs)]));
  const span = result.utterances.at(-1)!.sentMs;
  const first = abs(result.utterances.filter((u) => u.sentMs < 60_000));
  const last = abs(result.utterances.filter((u) => u.sentMs >= span - 60_000));
  const missing = result.utterances.filter((u) => u.offsetMs === null).length;
  const note = `${result.utterances.length} utterances over ${round(span / 60_000, 1)} min, ${missing} missing in a room`;
  return [
    row({ ...base, figure: `drift: |offset| median, first minute — ${result.label}`, unit: 'ms', relay: stat(first, 0.5), note }),
    row({ ...base, figure: `drift: |offset| median, last minute (of ${minutes})`, unit: 'ms', relay: stat(last, 0.5) }),
    row({ ...base, figure: 'drift: |offset| max over the run', unit: 'ms', relay: stat(abs(result.utterances), 1) }),
  ];
}
