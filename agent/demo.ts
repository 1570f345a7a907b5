/**
 * `npm run demo`: starts the relay in-process on the embedded engine, listens like `tts-agent listen`,
 * speaks one sentence and plays it through ffplay, or records demo.wav when ffplay is missing or cannot play.
 */
import { resolve } from 'node:path';
import type { SpeakCompleted } from '../shared/api.ts';
import type { Hello } from '../shared/protocol.ts';
import { startNodeRelay } from '../worker/runtime/node.ts';
import { AgentError } from './agent-error.ts';
import { runListen, type ListenSummary, type PlayerChoice } from './listen-command.ts';
import { resolveEndpoint, type RelayEndpoint } from './relay-endpoint.ts';
import { say } from './say.ts';
import { checkFfplay } from './sinks/ffplay.ts';
import { StatusLine } from './status-line.ts';

const STREAM = 'demo';
const SENTENCE = 'Hello from the relay. This sentence went from an HTTP request, through the speech engine, to your speakers.';
const WAV_PATH = 'demo.wav';
/** Generous: the embedded engine answers in well under a second; this only stops a broken setup from hanging. */
const STEP_TIMEOUT_MS = 20_000;

interface Run {
  summary: ListenSummary;
  completed: SpeakCompleted;
  /** From sending the request to the first audio frame at the listener. */
  listenerFirstAudioMs: number | null;
  hello: Hello;
}

async function main(): Promise<number> {
  const out = process.stdout;
  const relay = await startNodeRelay({
    port: 0,
    host: '127.0.0.1',
    quiet: true,
    env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: `demo-${crypto.randomUUID()}` },
  });
  try {
    out.write(`relay     ${relay.url} (embedded espeak engine, admin key generated for this run)\n`);
    const endpoint = resolveEndpoint({ url: relay.url, token: relay.adminKey }, {});

    let player: PlayerChoice = 'ffplay';
    const ffplayPath = process.env.FFPLAY_PATH || undefined;
    try {
      await checkFfplay(ffplayPath);
    } catch (error) {
      if (!(error instanceof AgentError)) throw error;
      out.write(`ffplay    ${error.message}\n`);
      player = 'none';
    }

    let run: Run;
    try {
      run = await speakAndListen(endpoint, player);
    } catch (error) {
      if (!(error instanceof AgentError) || error.code !== 'ffplay_failed') throw error;
      out.write(`ffplay    ${error.message}\n          speaking again into ${WAV_PATH} instead\n`);
      player = 'none';
      run = await speakAndListen(endpoint, player);
    }

    const { summary, completed, hello } = run;
    out.write(`listener  ${hello.format.encoding}, ${hello.format.sample_rate} Hz, heartbeat every ${hello.heartbeat_ms} ms\n`);
    out.write(`spoke     "${SENTENCE}" (${completed.characters} characters, utterance ${completed.utterance_id})\n`);
    out.write(
      `audio     ${summary.audioSeconds.toFixed(2)} s, ${summary.audioBytes.toLocaleString('en-US')} bytes; ` +
        `relay reports ${completed.audio_seconds.toFixed(2)} s, ended "${completed.reason}"\n`,
    );
    const relayFirst = completed.first_audio_ms === null ? 'none' : `${Math.round(completed.first_audio_ms)} ms at the relay`;
    const listenerFirst = run.listenerFirstAudioMs === null ? 'none at the listener' : `${run.listenerFirstAudioMs} ms at the listener`;
    out.write(`latency   first audio after ${relayFirst}, ${listenerFirst}; audio goes out at speaking speed, the last of it after ${Math.round(completed.total_ms)} ms\n`);
    out.write(player === 'ffplay' ? 'result    played through ffplay\n' : `result    wrote ${resolve(WAV_PATH)}: play it with "ffplay -autoexit ${WAV_PATH}" or any audio player\n`);
    return completed.reason === 'done' && summary.audioBytes > 0 ? 0 : 1;
  } finally {
    await relay.close();
  }
}

/** Starts a listener, speaks once it is connected, and returns when the utterance has played (or been written). */
async function speakAndListen(endpoint: RelayEndpoint, player: PlayerChoice): Promise<Run> {
  const stop = new AbortController();
  let connected!: (hello: Hello) => void;
  const helloReceived = new Promise<Hello>((resolve) => (connected = resolve));
  let sentAt = 0;
  let firstAudioAt: number | null = null;

  const listening = runListen({
    stream: STREAM,
    endpoint,
    player,
    out: player === 'none' ? WAV_PATH : undefined,
    count: 1,
    ffplayPath: process.env.FFPLAY_PATH || undefined,
    env: process.env,
    status: new StatusLine(process.stderr),
    signal: stop.signal,
    observer: {
      onHello: (hello) => connected(hello),
      onAudio: () => {
        firstAudioAt ??= Date.now();
      },
    },
  });
  try {
    const hello = await within(Promise.race([helloReceived, listening.then(() => Promise.reject(new Error('listener stopped before connecting')))]), 'connect the listener');
    sentAt = Date.now();
    const completed = (await within(say({ endpoint, stream: STREAM, text: SENTENCE, wait: true }), 'speak the sentence')) as SpeakCompleted;
    const summary = await within(listening, 'play the audio');
    return { summary, completed, hello, listenerFirstAudioMs: firstAudioAt === null ? null : firstAudioAt - sentAt };
  } catch (error) {
    stop.abort();
    await listening.catch(() => {});
    throw error;
  }
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`demo: could not ${what} within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
