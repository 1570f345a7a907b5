/**
 * The espeak-ng thread: loads the engine once, then speaks one request at a time off the relay's event
 * loop. Written against a Web Worker's global scope; Node's entry maps worker_threads onto it.
 */
import { type EspeakEngine, loadEspeakEngine } from './engine.ts';
import { isSpeakRequest, type SpeakRequest, type ThreadReply } from './thread-messages.ts';

interface WorkerScope {
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(message: ThreadReply, transfer?: ArrayBuffer[]): void;
}

const scope = globalThis as unknown as WorkerScope;
/** Requests that came before the engine was loaded (the relay waits for `ready`, but nothing is lost if not). */
const early: SpeakRequest[] = [];
let engine: EspeakEngine | null = null;

scope.onmessage = ({ data }) => {
  // The relay is the only sender; anything else is not a request and has no one to answer.
  if (!isSpeakRequest(data)) return;
  if (engine) speak(engine, data);
  else early.push(data);
};

loadEspeakEngine().then(
  (loaded) => {
    engine = loaded;
    scope.postMessage({ type: 'ready', voices: loaded.voices });
    for (const request of early.splice(0)) speak(loaded, request);
  },
  (error: unknown) => scope.postMessage({ type: 'failed', message: describe(error) }),
);

function speak(loaded: EspeakEngine, { id, text, voice, stop }: SpeakRequest): void {
  try {
    const { sampleCount, words } = loaded.synthesizeInChunks(text, voice, (samples, settled) => {
      scope.postMessage({ type: 'chunk', id, samples, words: settled }, [samples.buffer as ArrayBuffer]);
    }, stop && (() => Atomics.load(stop, 0) === id));
    scope.postMessage({ type: 'spoken', id, sampleCount, words });
  } catch (error) {
    scope.postMessage({ type: 'error', id, message: describe(error) });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
