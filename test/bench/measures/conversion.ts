/**
 * Format conversion: what listeners asking for another encoding or sample rate cost, showing it is paid once
 * per format and not per listener.
 *
 * Two views. The relay's own ListenerHub (in this process, over sockets that only count) fed a stream's audio,
 * with 1 and with 100 listeners of a format: its CPU beyond the same listeners of the native format is the
 * conversion, free of socket and scheduling noise. Then the relay process with 100 real listeners of each
 * format, against a bare broadcast server writing the same bytes: the per-listener-second cost as deployed.
 */
import { type AudioFormat, bytesPerSecond, formatKey } from '../../../shared/audio-format.ts';
import { AUDIO_HEADER_BYTES } from '../../../shared/protocol.ts';
import { createTranscoder } from '../../../shared/transcoder.ts';
import { ListenerHub } from '../../../worker/listeners/listener-hub.ts';
import type { ListenerSocket } from '../../../worker/listeners/listener.ts';
import { MemoryBroker } from '../../../worker/broker/memory.ts';
import { silentLogger } from '../../../worker/ops/logger.ts';
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
// The provider's chunk: 50 ms.
const CHUNK_SECONDS = 0.05;
// Windows per relay-process cell; the median resists a neighbour's burst of CPU on a shared machine.
const WINDOWS = 3;

export interface FanOutCell {
  format: string;
  listeners: number;
  /** Microseconds of CPU per second of audio through the ListenerHub. */
  usPerAudioSecond: number;
}

export interface SocketCell {
  format: string;
  listeners: number;
  relayUsPerListenerSecond: number;
  bareUsPerListenerSecond: number;
}

export interface ConversionResult {
  runtime: Runtime;
  source: AudioFormat;
  counts: number[];
  fanOut: FanOutCell[];
  sockets: SocketCell[];
  /** One transcoder alone: microseconds of CPU per second of audio, by format. */
  transcoderUsPerAudioSecond: Record<string, number>;
}

/** A chunk of the source format: a tone, so the converters work on real signal. */
function sourceChunk(format: AudioFormat): Uint8Array {
  const samples = new Float32Array(Math.round(format.sampleRate * CHUNK_SECONDS));
  for (let i = 0; i < samples.length; i++) samples[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / format.sampleRate);
  if (format.encoding !== 'pcm_f32le') return createTranscoder({ encoding: 'pcm_f32le', sampleRate: format.sampleRate }, format).push(new Uint8Array(samples.buffer));
  return new Uint8Array(samples.buffer);
}

/** One transcoder fed `seconds` of the source format in provider-sized chunks. */
export function timeTranscoder(from: AudioFormat, to: AudioFormat, seconds: number): number {
  const chunk = sourceChunk(from);
  const transcoder = createTranscoder(from, to);
  for (let i = 0; i < 40; i++) transcoder.push(chunk);
  const chunks = Math.round(seconds / CHUNK_SECONDS);
  const before = process.cpuUsage();
  for (let i = 0; i < chunks; i++) transcoder.push(chunk);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (chunks * CHUNK_SECONDS);
}

/** The relay's ListenerHub with `listeners` counting sockets of `format`, fed `seconds` of audio: CPU per audio second. */
export function timeFanOut(source: AudioFormat, format: AudioFormat, listeners: number, seconds: number): number {
  const broker = new MemoryBroker();
  const fanOut = new ListenerHub({ broker, sourceFormat: source, logger: silentLogger, heartbeatMs: 3_600_000, bufferBudgetBytes: Number.MAX_SAFE_INTEGER, maxBufferedSeconds: 30, newId: () => 'bench', relayClock: () => Date.now(), syncDelayMs: 0 });
  let bytes = 0;
  const socket: ListenerSocket = {
    send: (data) => void (bytes += typeof data === 'string' ? data.length : data.byteLength),
    close: () => {},
    bufferedAmount: () => 0,
    isOpen: () => true,
  };
  for (let i = 0; i < listeners; i++) fanOut.add('conversion', format, socket);
  const chunk = sourceChunk(source);
  const run = (utterance: number, chunks: number) => {
    broker.publish('conversion', { type: 'utterance_start', utterance, utterance_id: `utt_${utterance}` });
    for (let i = 0; i < chunks; i++) broker.publish('conversion', { type: 'audio', utterance, data: chunk });
    broker.publish('conversion', { type: 'utterance_end', utterance, utterance_id: `utt_${utterance}`, reason: 'done' });
  };
  run(1, 40);
  const chunks = Math.round(seconds / CHUNK_SECONDS);
  const before = process.cpuUsage();
  run(2, chunks);
  const used = process.cpuUsage(before);
  fanOut.close(1000, 'done');
  if (bytes === 0) throw new Error('the fan-out sent nothing');
  return (used.user + used.system) / (chunks * CHUNK_SECONDS);
}

async function medianWindow(measure: () => Promise<{ step: WindowFigures }>): Promise<WindowFigures> {
  const steps: WindowFigures[] = [];
  for (let i = 0; i < WINDOWS; i++) steps.push((await measure()).step);
  steps.sort((a, b) => a.cpuShare - b.cpuShare);
  return steps[Math.floor(steps.length / 2)]!;
}

export async function measureConversion(ctx: BenchContext, runtime: Runtime, source: AudioSource): Promise<ConversionResult> {
  const smoke = ctx.mode === 'smoke';
  const counts = smoke ? [1, 10] : [1, 100];
  const formats = [source.format, ...CONVERSION_FORMATS];
  const audioSeconds = smoke ? 2 : 30;

  const fanOut: FanOutCell[] = [];
  const transcoderUsPerAudioSecond: Record<string, number> = {};
  for (const format of formats) {
    for (const listeners of counts) {
      // Median of three runs: one slow run (a GC, a neighbour) does not make the figure.
      const runs = [0, 1, 2].map(() => timeFanOut(source.format, format, listeners, audioSeconds)).sort((a, b) => a - b);
      fanOut.push({ format: formatKey(format), listeners, usPerAudioSecond: runs[1]! });
    }
    if (format !== source.format) transcoderUsPerAudioSecond[formatKey(format)] = timeTranscoder(source.format, format, audioSeconds);
  }

  const many = counts[counts.length - 1]!;
  const windowMs = smoke ? 300 : 1000;
  const settleMs = smoke ? 300 : 1000;
  const sockets: SocketCell[] = [];
  const swarm = await startSwarm();
  try {
    const port = await freePort();
    const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
      runtime,
      env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
    });
    let frameMs = 0;
    try {
      const target = { url: relay.info.url, key: ctx.adminKey };
      let stream = 0;
      for (const format of formats) {
        // A stream per format with its listeners in before the audio starts (a format channel opened in
        // the middle of an utterance gets none of it), the window once the relay holds the whole utterance.
        const name = `conversion-${++stream}`;
        await swarm.connect(relay.info.url, `/v1/streams/${name}/listen?encoding=${format.encoding}&sample_rate=${format.sampleRate}`, many, ctx.adminKey);
        const before = await source.produced();
        const answer = await speak(target, name, source.text((settleMs + WINDOWS * windowMs) / 1000 + 4));
        if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
        await source.quiet(before);
        await sleep(settleMs);
        const step = await medianWindow(() => swarm.measure(format, windowMs, relay));
        if (!(step.framesPerSecond > 0)) throw new Error(`the relay sent no ${formatKey(format)} audio\n${relay.stderr()}`);
        if (format === source.format) frameMs = ((step.meanFrameBytes - AUDIO_HEADER_BYTES) / bytesPerSecond(format)) * 1000;
        sockets.push({ format: formatKey(format), listeners: many, relayUsPerListenerSecond: step.cpuUsPerListenerSecond, bareUsPerListenerSecond: Number.NaN });
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
        // The frames the relay sends this format: the native frame's duration, this format's bytes.
        const payloadBytes = Math.round((frameMs / 1000) * bytesPerSecond(format));
        await swarm.connect(bare.info.url, '/', many);
        await bare.call('play', { payloadBytes, frameMs, leadMs: ctx.playoutLeadMs });
        await sleep(settleMs);
        const step = await medianWindow(() => swarm.measure(format, windowMs, bare));
        sockets.find((c) => c.format === formatKey(format))!.bareUsPerListenerSecond = step.cpuUsPerListenerSecond;
        await bare.call('stop');
        await swarm.closeAll();
      }
    } finally {
      await bare.stop();
    }
  } finally {
    await swarm.child.stop();
  }

  const result: ConversionResult = { runtime, source: source.format, counts, fanOut, sockets, transcoderUsPerAudioSecond };
  for (const format of CONVERSION_FORMATS) {
    const key = formatKey(format);
    const conversion = conversionUs(result, key);
    ctx.log(
      `  conversion to ${key}: ${counts.map((n) => `${n} listener(s) ${(conversion[n]! / 1000).toFixed(2)} ms/audio-s`).join(', ')}; ` +
        `one transcoder ${(transcoderUsPerAudioSecond[key]! / 1000).toFixed(2)} ms/audio-s`,
    );
  }
  return result;
}

/** ListenerHub CPU for listeners of `key` beyond the same number of native listeners, by listener count. */
function conversionUs(result: ConversionResult, key: string): Record<number, number> {
  const cell = (format: string, listeners: number) => result.fanOut.find((c) => c.format === format && c.listeners === listeners)!.usPerAudioSecond;
  const native = formatKey(result.source);
  return Object.fromEntries(result.counts.map((n) => [n, cell(key, n) - cell(native, n)]));
}

export function conversionRows(result: ConversionResult): Row[] {
  const rows: Row[] = [];
  const few = result.counts[0]!;
  const many = result.counts[result.counts.length - 1]!;
  for (const format of CONVERSION_FORMATS) {
    const key = formatKey(format);
    const conversion = conversionUs(result, key);
    const sockets = result.sockets.find((c) => c.format === key);
    rows.push(
      row({
        item: 5,
        figure: `conversion to ${key}, ${many} listeners vs ${few} (relay ListenerHub, ${result.runtime})`,
        unit: 'ms CPU per audio s',
        relay: conversion[many]! / 1000,
        baseline: conversion[few]! / 1000,
        baselineName: `${few} listener`,
        note: 'about 1× means paid once per format',
      }),
      row({
        item: 5,
        figure: `conversion per listener-second, ${many} listeners of ${key} (${result.runtime})`,
        unit: 'µs',
        relay: conversion[many]! / many,
        baseline: result.transcoderUsPerAudioSecond[key]!,
        baselineName: 'a converter per listener',
      }),
    );
    if (sockets) {
      rows.push(
        row({
          item: 5,
          figure: `relay CPU per listener-second, ${many} listeners of ${key}, real sockets (${result.runtime})`,
          unit: 'µs',
          relay: sockets.relayUsPerListenerSecond,
          baseline: sockets.bareUsPerListenerSecond,
          baselineName: 'bare broadcast, same bytes',
        }),
      );
    }
  }
  const native = result.sockets.find((c) => c.format === formatKey(result.source));
  if (native) {
    rows.push(
      row({
        item: 5,
        figure: `relay CPU per listener-second, ${many} listeners of ${formatKey(result.source)} (native), real sockets (${result.runtime})`,
        unit: 'µs',
        relay: native.relayUsPerListenerSecond,
        baseline: native.bareUsPerListenerSecond,
        baselineName: 'bare broadcast, same bytes',
      }),
    );
  }
  return rows;
}
