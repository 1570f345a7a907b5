/**
 * Format conversion: what listeners asking for another encoding or sample rate cost, showing it is paid once
 * per format and not per listener.
 *
 * Two views. The relay's own ListenerHub (in this process, over sockets that only count) fed a stream's audio,
 * with 1 and with 100 listeners of a format: its CPU beyond the same listeners of the native format is the
 * conversion, free of socket and scheduling noise. Then the relay process with 100 real listeners of each
 * format against a bare broadcast server writing the same bytes, in interleaved rounds (conversion-sockets.ts):
 * the per-listener-second cost as deployed, and each converted path's against the native one's.
 */
import { type AudioFormat, formatKey } from '../../../shared/audio-format.ts';
import { createTranscoder } from '../../../shared/transcoder.ts';
import { ListenerHub } from '../../../worker/listeners/listener-hub.ts';
import type { ListenerSocket } from '../../../worker/listeners/listener.ts';
import { MemoryBroker } from '../../../worker/broker/memory.ts';
import { silentLogger } from '../../../worker/ops/logger.ts';
import type { Runtime } from '../child-process.ts';
import type { BenchContext } from '../context.ts';
import { comparedRow, row, type Row } from '../report.ts';
import type { AudioSource } from '../sources.ts';
import { CONVERSION_LIMIT, type ConversionSocketsPlan, type ConversionSocketsResult, measureConversionSockets } from './conversion-sockets.ts';

export const CONVERSION_FORMATS: AudioFormat[] = [
  { encoding: 'pcm_s16le', sampleRate: 16000 },
  { encoding: 'pcm_mulaw', sampleRate: 8000 },
];
// The provider's chunk: 50 ms.
const CHUNK_SECONDS = 0.05;

export interface FanOutCell {
  format: string;
  listeners: number;
  /** Microseconds of CPU per second of audio through the ListenerHub. */
  usPerAudioSecond: number;
}

export interface ConversionResult {
  runtime: Runtime;
  source: AudioFormat;
  counts: number[];
  fanOut: FanOutCell[];
  /** Real sockets, interleaved rounds against a bare broadcast. */
  sockets: ConversionSocketsResult;
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

export async function measureConversion(ctx: BenchContext, runtime: Runtime, source: AudioSource, plan: ConversionSocketsPlan): Promise<ConversionResult> {
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
  const sockets = await measureConversionSockets(ctx, runtime, source, CONVERSION_FORMATS, plan);

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
  }
  const { sockets } = result;
  for (const cell of sockets.formats) {
    const native = cell.format === formatKey(result.source);
    rows.push(
      comparedRow(
        {
          item: 5,
          figure: `relay CPU per listener-second, ${sockets.listeners} listeners of ${cell.format}${native ? ' (native)' : ''}, real sockets (${result.runtime})`,
          unit: 'µs',
          baselineName: 'bare broadcast, same bytes',
        },
        cell.cpu,
      ),
    );
  }
  for (const { format, figure } of sockets.againstNative) {
    rows.push(
      comparedRow(
        {
          item: 5,
          figure: `${format} path vs the native path, each over its bare broadcast (${sockets.listeners} listeners, ${result.runtime})`,
          unit: '×',
          baselineName: 'native relay/bare',
          target: `≤ ${CONVERSION_LIMIT}× native`,
          note: 'each server\'s helper threads charged evenly over its windows of the format',
        },
        figure,
      ),
    );
  }
  for (const { format, figure } of sockets.againstNativeAsRead) {
    rows.push(
      comparedRow(
        {
          item: 5,
          figure: `${format} path vs the native path, CPU as read (${sockets.listeners} listeners, ${result.runtime})`,
          unit: '×',
          baselineName: 'native relay/bare',
        },
        figure,
      ),
    );
  }
  return rows;
}
