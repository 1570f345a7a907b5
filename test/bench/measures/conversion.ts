/**
 * Format conversion: what listeners asking for another encoding or sample rate cost the relay, showing it is
 * paid once per format and not per listener. The relay's CPU with N listeners of a format, minus a bare
 * broadcast server's CPU for the same bytes to the same N sockets, is its overhead; the overhead beyond the
 * native format's is the conversion. It is set against the transcoder's own cost, timed in this process.
 */
import { type AudioFormat, bytesPerSecond, formatKey } from '../../../shared/audio-format.ts';
import { createTranscoder } from '../../../shared/transcoder.ts';
import { type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { row, type Row } from '../report.ts';
import { speak } from '../speak-client.ts';
import type { AudioSource } from '../sources.ts';
import { startSwarm, type WindowFigures } from './fan-out.ts';

export const CONVERSION_FORMATS: AudioFormat[] = [
  { encoding: 'pcm_s16le', sampleRate: 16000 },
  { encoding: 'pcm_mulaw', sampleRate: 8000 },
];

export interface ConversionCell {
  format: string;
  listeners: number;
  /** Server CPU in microseconds per wall second. */
  relayUsPerSecond: number;
  bareUsPerSecond: number;
}

export interface ConversionResult {
  runtime: Runtime;
  source: AudioFormat;
  counts: number[];
  cells: ConversionCell[];
  /** In-process transcoder: microseconds of CPU per second of audio, by format. */
  transcoderUsPerAudioSecond: Record<string, number>;
  /** Relay CPU beyond the native format's overhead, per wall second, by format and listener count. */
  conversionUsPerSecond: Record<string, Record<number, number>>;
}

// Windows per cell; the median resists a neighbour's burst of CPU on a shared machine.
const WINDOWS = 3;

/** Runs WINDOWS measurement windows and keeps the one with the median CPU. */
async function medianWindow(measure: () => Promise<{ step: WindowFigures }>): Promise<WindowFigures> {
  const steps: WindowFigures[] = [];
  for (let i = 0; i < WINDOWS; i++) steps.push((await measure()).step);
  steps.sort((a, b) => a.cpuShare - b.cpuShare);
  return steps[Math.floor(steps.length / 2)]!;
}

/** The transcoder alone: one converter fed `seconds` of the source format in 50 ms chunks. */
export function timeTranscoder(from: AudioFormat, to: AudioFormat, seconds: number): number {
  const chunkSamples = Math.round(from.sampleRate * 0.05);
  const samples = new Float32Array(chunkSamples);
  for (let i = 0; i < samples.length; i++) samples[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / from.sampleRate);
  const chunk = new Uint8Array(samples.buffer);
  const transcoder = createTranscoder(from, to);
  for (let i = 0; i < 40; i++) transcoder.push(chunk);
  const chunks = Math.round(seconds / 0.05);
  const before = process.cpuUsage();
  for (let i = 0; i < chunks; i++) transcoder.push(chunk);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (chunks * 0.05);
}

export async function measureConversion(ctx: BenchContext, runtime: Runtime, source: AudioSource): Promise<ConversionResult> {
  const windowMs = ctx.mode === 'smoke' ? 300 : 1000;
  const settleMs = ctx.mode === 'smoke' ? 300 : 1000;
  const counts = ctx.mode === 'smoke' ? [1, 5] : [1, 100];
  const formats = [source.format, ...CONVERSION_FORMATS];
  const swarm = await startSwarm();
  const cells: ConversionCell[] = [];
  try {
    const port = await freePort();
    const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
      runtime,
      env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
    });
    let frame = { payloadBytes: 0, frameMs: 0 };
    try {
      const target = { url: relay.info.url, key: ctx.adminKey };
      const utteranceSeconds = Math.ceil((counts.length * (settleMs + WINDOWS * windowMs + 1500)) / 1000) + 8;
      let stream = 0;
      for (const format of formats) {
        // A stream per format, its first listener in before the audio starts: a format channel opened in
        // the middle of an utterance gets none of it (the fan-out learns an utterance from its start event).
        const name = `conversion-${++stream}`;
        const path = `/v1/streams/${name}/listen?encoding=${format.encoding}&sample_rate=${format.sampleRate}`;
        let connected = 0;
        for (const listeners of counts) {
          await swarm.connect(relay.info.url, path, listeners - connected, ctx.adminKey);
          if (connected === 0) {
            const before = await source.produced();
            const answer = await speak(target, name, source.text(utteranceSeconds));
            if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
            // The window opens once the relay holds the whole utterance: it measures conversion, not ingest.
            await source.quiet(before);
          }
          connected = listeners;
          await sleep(settleMs);
          const step = await medianWindow(() => swarm.measure(format, windowMs, relay));
          if (!(step.framesPerSecond > 0)) throw new Error(`the relay sent no ${formatKey(format)} audio\n${relay.stderr()}`);
          if (format === source.format && listeners === counts[0]) {
            frame = { payloadBytes: Math.round(step.meanFrameBytes) - 12, frameMs: 1000 / step.framesPerSecond };
          }
          cells.push({ format: formatKey(format), listeners, relayUsPerSecond: step.cpuShare * 1e6, bareUsPerSecond: Number.NaN });
        }
        await swarm.closeAll();
        const cancelled = await fetch(new URL(`/v1/streams/${name}/cancel?all=true`, target.url), { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` } });
        await cancelled.arrayBuffer();
      }
    } finally {
      await relay.stop();
    }

    const bare = await spawnChild<{ url: string }>('test/bench/broadcast-child.ts', { runtime });
    try {
      for (const format of formats) {
        // The same frames the relay sends this format: the native frame's duration, this format's bytes.
        const payloadBytes = Math.round((frame.frameMs / 1000) * bytesPerSecond(format));
        await bare.call('play', { payloadBytes, frameMs: frame.frameMs, leadMs: ctx.playoutLeadMs });
        let connected = 0;
        for (const listeners of counts) {
          await swarm.connect(bare.info.url, '/', listeners - connected);
          connected = listeners;
          await sleep(settleMs);
          const step = await medianWindow(() => swarm.measure(format, windowMs, bare));
          const cell = cells.find((c) => c.format === formatKey(format) && c.listeners === listeners)!;
          cell.bareUsPerSecond = step.cpuShare * 1e6;
        }
        await bare.call('stop');
        await swarm.closeAll();
      }
    } finally {
      await bare.stop();
    }
  } finally {
    await swarm.child.stop();
  }

  const overhead = (format: AudioFormat, listeners: number) => {
    const cell = cells.find((c) => c.format === formatKey(format) && c.listeners === listeners)!;
    return cell.relayUsPerSecond - cell.bareUsPerSecond;
  };
  const conversionUsPerSecond: ConversionResult['conversionUsPerSecond'] = {};
  const transcoderUsPerAudioSecond: Record<string, number> = {};
  for (const format of CONVERSION_FORMATS) {
    const key = formatKey(format);
    conversionUsPerSecond[key] = Object.fromEntries(counts.map((n) => [n, overhead(format, n) - overhead(source.format, n)]));
    transcoderUsPerAudioSecond[key] = timeTranscoder(source.format, format, ctx.mode === 'smoke' ? 5 : 60);
    ctx.log(
      `  conversion to ${key}: ${counts.map((n) => `${n} listener(s) ${(conversionUsPerSecond[key]![n]! / 1000).toFixed(2)} ms/s`).join(', ')}; ` +
        `transcoder ${(transcoderUsPerAudioSecond[key]! / 1000).toFixed(2)} ms per audio second`,
    );
  }
  return { runtime, source: source.format, counts, cells, transcoderUsPerAudioSecond, conversionUsPerSecond };
}

export function conversionRows(result: ConversionResult): Row[] {
  const rows: Row[] = [];
  const [few, many] = [result.counts[0]!, result.counts[result.counts.length - 1]!];
  for (const [key, byCount] of Object.entries(result.conversionUsPerSecond)) {
    const atFew = byCount[few]!;
    const atMany = byCount[many]!;
    rows.push(
      row({
        item: 5,
        figure: `conversion CPU to ${key}, ${many} listeners vs ${few} (${result.runtime})`,
        unit: 'ms per s',
        relay: atMany / 1000,
        baseline: atFew / 1000,
        baselineName: `${few} listener`,
        note: 'about 1× means paid once per format',
      }),
      row({
        item: 5,
        figure: `conversion CPU per listener-second to ${key}, ${many} listeners (${result.runtime})`,
        unit: 'µs',
        relay: atMany / many,
        baseline: result.transcoderUsPerAudioSecond[key]!,
        baselineName: 'one converter per listener',
      }),
    );
  }
  return rows;
}
