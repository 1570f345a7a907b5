/**
 * Warm start: right after start, rehearsal utterances through a private copy of the relay — its own app,
 * streams, broker, metrics and listeners, a provider that makes a tone without the engine — so the first
 * real utterance finds the code it runs compiled and its caches filled: routes, auth, body parsing and
 * schemas, stream, playout, fan-out, each common format's conversion, the log lines. The copy shares nothing
 * that can be seen: no stream in /v1/streams, no metric counted, no log line written; the relay is ready
 * meanwhile. The runtime warms its own adapters first (RuntimeAdapter.warmUp); the engines warm themselves
 * (espeak in its thread, Cartesia's socket and message parsing in its provider).
 */
import type { Hono } from 'hono';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { unrefTimer } from '../../shared/timers.ts';
import { createApp } from '../app.ts';
import { MemoryBroker } from '../broker/memory.ts';
import { Relay } from '../core/relay.ts';
import type { ListenerSocket } from '../listeners/listener.ts';
import type { TTSProvider } from '../providers/provider.ts';
import type { LoopbackServer, RuntimeAdapter } from '../runtime/contract.ts';
import type { RelayConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { WarmUpProvider } from './warm-up-provider.ts';

export interface WarmUpDeps {
  config: RelayConfig;
  /** The real provider: its name, format and default voice (the rehearsal never opens a context of it). */
  provider: Pick<TTSProvider, 'name' | 'preferredFormat' | 'defaultVoice'>;
  runtime: RuntimeAdapter;
  /** The relay's app: its router is built ahead of the first request. */
  app: Hono<any>;
  /** Formats its lines like the relay's logger and writes them nowhere. */
  logger: Logger;
}

const STREAM = 'warm-up';
// Words with punctuation and a number: the word-time matching (Unicode classes) runs on all of them.
const TEXT = 'Warming up: the first words, one two three, are heard.';
/** Listeners' formats besides the provider's own: the common conversions (telephony, speech recognition). */
const CONVERTED: AudioFormat[] = [
  { encoding: 'pcm_s16le', sampleRate: 16000 },
  { encoding: 'pcm_mulaw', sampleRate: 8000 },
];
/**
 * Utterances rehearsed, each on a stream and listeners of its own as new callers come, all but the last cut at
 * their first audio: the path of a first audio frame took 6 utterances to warm (stage timings: 0.7-3 ms from the
 * engine's chunk to the socket write for each of a relay's first 6, 0.1-0.2 after).
 */
const ROUNDS = 6;
// A bound against a hang only: the rehearsal takes 0.3-0.9 s at start (Node, load ~3).
const TIMEOUT_MS = 10_000;

/**
 * Runs the rehearsal and resolves when it is over, saying whether it went over the runtime's loopback server or
 * called the app directly; rejects when it fails, which only leaves the relay cold.
 */
export async function warmUp(deps: WarmUpDeps): Promise<{ ms: number; through: 'loopback' | 'app' }> {
  // After the entry's own start-up (the server listening): the warm-up never holds readiness back.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const started = performance.now();
  await deps.runtime.warmUp?.();
  deps.app.router.match('POST', `/v1/streams/${STREAM}/speak`);
  const relay = new Relay({ config: deps.config, provider: new WarmUpProvider(deps.provider), broker: new MemoryBroker(), logger: deps.logger });
  let through: 'loopback' | 'app';
  try {
    through = await rehearse(relay, createApp(relay, deps.runtime), deps);
  } finally {
    await relay.close();
  }
  return { ms: performance.now() - started, through };
}

async function rehearse(relay: Relay, app: Hono<any>, deps: WarmUpDeps): Promise<'loopback' | 'app'> {
  const loopback = await deps.runtime.serveLoopback?.(app.fetch);
  const send: LoopbackServer['request'] = loopback
    ? (path, init) => loopback.request(path, init)
    : async (path, init) => {
        const response = await app.request(path, init);
        await response.arrayBuffer();
        return response.status;
      };
  const authorization = `Bearer ${deps.config.adminKeys[0]}`;
  const listen: Listen = loopback?.openSocket ? socketListener(loopback.openSocket, authorization) : inProcessListener(relay);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const last = round === ROUNDS;
      const stream = `${STREAM}-${round}`;
      await relay.directory.open(stream);
      const native = deps.provider.preferredFormat;
      const sinks = await Promise.all([listen(stream, native, false, last), listen(stream, native, true, last), ...CONVERTED.map((format) => listen(stream, format, false, last))]);
      try {
        const status = await send(`/v1/streams/${stream}/speak`, { method: 'POST', headers: { authorization, 'content-type': 'text/plain; charset=utf-8' }, body: TEXT });
        if (status !== 202) throw new Error(`the rehearsal's speak answered ${status}`);
        await withTimeout(Promise.all(sinks.map((sink) => sink.done)), TIMEOUT_MS);
        if (last) await send(`/v1/streams/${stream}`, { method: 'GET', headers: { authorization } });
        await send(`/v1/streams/${stream}/cancel`, { method: 'POST', headers: { authorization } });
      } finally {
        for (const sink of sinks) sink.close();
      }
    }
  } finally {
    await loopback?.close();
  }
  return loopback ? 'loopback' : 'app';
}

/** A listener of the private relay: `done` settles at its first audio, or with `toEnd` at its utterance's end. */
type Listen = (stream: string, format: AudioFormat, timing: boolean, toEnd: boolean) => Promise<{ done: Promise<void>; close(): void }>;

function awaiting(toEnd: boolean): { done: Promise<void>; take(data: string | Uint8Array): void; end(): void } {
  let end!: () => void;
  const done = new Promise<void>((resolve) => (end = resolve));
  const take = (data: string | Uint8Array) => {
    if (typeof data === 'string' ? data.includes('"utterance_end"') : !toEnd) end();
  };
  return { done, take, end };
}

/** Real WebSockets over the loopback server: the handshake, the listen route and the runtime's socket writes. */
function socketListener(openSocket: NonNullable<LoopbackServer['openSocket']>, authorization: string): Listen {
  return async (stream, format, timing, toEnd) => {
    const sink = awaiting(toEnd);
    const query = `encoding=${format.encoding}&sample_rate=${format.sampleRate}${timing ? '&timing=true' : ''}`;
    const socket = await openSocket(`/v1/streams/${stream}/listen?${query}`, { authorization }, sink.take);
    return { done: sink.done, close: () => socket.close() };
  };
}

/** Sockets of the relay's own listener interface, for a runtime without a loopback client. */
function inProcessListener(relay: Relay): Listen {
  return async (stream, format, timing, toEnd) => {
    const sink = awaiting(toEnd);
    const socket: ListenerSocket = {
      send: (data) => sink.take(data),
      close: () => sink.end(),
      bufferedAmount: () => 0,
      isOpen: () => true,
    };
    relay.listeners.add(stream, format, socket, { timing });
    return { done: sink.done, close: () => {} };
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the rehearsal did not end within ${ms} ms`)), ms);
    unrefTimer(timer);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
