/** Generation: real speech from espeak-ng in the context's format, sent as chunks with word timestamps as audio covers them. */
import { bytesPerSample } from '../../../shared/audio-format.ts';
import { createTranscoder } from '../../../shared/transcoder.ts';
import { ESPEAK_SAMPLE_RATE } from '../../../worker/providers/espeak/engine.ts';
import { faultAfterChunk, faultBeforeAudio } from './faults.ts';
import { send, sendGarbage, sendTimestamps, type TimedWord } from './frames.ts';
import { type Connection, delay, type EmulatedContext, type EmulatorState, SOCKET_OPEN } from './state.ts';

interface Segment {
  audio: Uint8Array;
  /** Word times in the context's seconds (from its first sample). */
  words: TimedWord[];
  /** Milliseconds the synthesis took, reported as Cartesia's `step_time`. */
  stepTime: number;
}

/** Speaks `text` on the context: chunk by chunk, paced, with the timestamps and faults that go with each. */
export async function speak(state: EmulatorState, connection: Connection, context: EmulatedContext, text: string): Promise<void> {
  const { settings, faults } = state;
  await delay(settings.firstChunkDelayMs);
  if (faultBeforeAudio(state, connection, context)) return;
  const { audio, words, stepTime } = synthesize(state, context, text);
  const sampleBytes = bytesPerSample(context.format.encoding);
  const chunkBytes = Math.max(1, Math.round((context.format.sampleRate * settings.chunkMs) / 1000)) * sampleBytes;
  const base = context.seconds;
  let wordsSent = 0;
  for (let offset = 0; offset < audio.byteLength; offset += chunkBytes) {
    if (offset > 0) await delay(settings.chunkIntervalMs + (faults.chunkDelayMs ?? 0));
    else if (faults.chunkDelayMs) await delay(faults.chunkDelayMs);
    if (context.cancelled) {
      if (context.lateChunks <= 0) return;
      context.lateChunks -= 1;
    }
    if (connection.socket.readyState !== SOCKET_OPEN) return;
    const { garbageBeforeChunks } = context.faults;
    if (garbageBeforeChunks !== undefined && context.chunks < garbageBeforeChunks) sendGarbage(state, connection, context.id);
    const data = Buffer.from(audio.subarray(offset, offset + chunkBytes)).toString('base64');
    send(state, connection, { type: 'chunk', data, done: false, status_code: 206, step_time: Math.round(stepTime * 100) / 100, flush_id: context.flushId, context_id: context.id });
    context.chunks += 1;
    context.seconds = base + Math.min(audio.byteLength, offset + chunkBytes) / sampleBytes / context.format.sampleRate;
    const covered = words.filter((w, i) => i >= wordsSent && w.end <= context.seconds + 1e-6);
    if (covered.length > 0 && !context.cancelled) {
      sendTimestamps(state, connection, context, covered);
      wordsSent += covered.length;
    }
    if (faultAfterChunk(state, connection, context)) return;
  }
  if (!context.cancelled && wordsSent < words.length) sendTimestamps(state, connection, context, words.slice(wordsSent));
}

/** The whole segment's audio in the context's format, and its words timed from where the context's audio stands. */
function synthesize(state: EmulatorState, context: EmulatedContext, text: string): Segment {
  const key = `${context.voice}\n${context.format.encoding}\n${context.format.sampleRate}\n${text.trim()}`;
  let kept = synthesized.get(state.engine);
  if (!kept) synthesized.set(state.engine, (kept = new Map()));
  let segment = kept.get(key);
  if (!segment) {
    segment = synthesizeFromStart(state, context, text);
    if (kept.size >= SYNTHESIZED_KEPT) kept.delete(kept.keys().next().value!);
    kept.set(key, segment);
  }
  const base = context.seconds;
  return { ...segment, words: segment.words.map((w) => ({ word: w.word, start: base + w.start, end: base + w.end })) };
}

/**
 * Segments already synthesized, by engine, then voice, format and text. espeak-ng runs on the emulator's one thread
 * (about 5 ms for a short sentence): at a hundred utterances a second it held up every other context's timers and
 * socket writes by up to 40 ms, a delay that is not the emulated synthesis delay and that the latency bench charged
 * to whichever client shared a socket with the stall.
 */
const synthesized = new WeakMap<EmulatorState['engine'], Map<string, Segment>>();
const SYNTHESIZED_KEPT = 64;

/** A segment's audio in the context's format, its words timed from its first sample. */
function synthesizeFromStart(state: EmulatorState, context: EmulatedContext, text: string): Segment {
  const started = performance.now();
  const synthesis = state.engine.synthesize(text.trim(), context.voice);
  const transcoder = createTranscoder({ encoding: 'pcm_f32le', sampleRate: ESPEAK_SAMPLE_RATE }, context.format);
  const source = new Uint8Array(synthesis.samples.buffer, synthesis.samples.byteOffset, synthesis.samples.byteLength);
  const head = transcoder.push(source);
  const tail = transcoder.flush();
  const audio = new Uint8Array(head.byteLength + tail.byteLength);
  audio.set(head);
  audio.set(tail, head.byteLength);
  const stepTime = performance.now() - started;
  const segmentSeconds = audio.byteLength / bytesPerSample(context.format.encoding) / context.format.sampleRate;
  const scale = synthesis.samples.length > 0 ? segmentSeconds / (synthesis.samples.length / ESPEAK_SAMPLE_RATE) : 1;
  const words = synthesis.words.map((w) => ({ word: w.word, start: w.start * scale, end: w.end * scale }));
  return { audio, words, stepTime };
}
