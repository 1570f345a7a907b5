/**
 * Warm start: right after start, one rehearsal utterance through a private copy of the relay — its own app,
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
// A bound against a hang only: the rehearsal takes 0.2–0.4 s at start (measured at load 8–15).
const TIMEOUT_MS = 10_000;

/** Runs the rehearsal and resolves when it is over; rejects when it fails, which only leaves the relay cold. */
export async function warmUp(deps: WarmUpDeps): Promise<{ ms: number }> {
  // After the entry's own start-up (the server listening): the warm-up never holds readiness back.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const started = performance.now();
  await deps.runtime.warmUp?.();
  deps.app.router.match('POST', `/v1/streams/${STREAM}/speak`);
  const relay = new Relay({ config: deps.config, provider: new WarmUpProvider(deps.provider), broker: new MemoryBroker(), logger: deps.logger });
  try {
    await rehearse(relay, createApp(relay, deps.runtime), deps);
  } finally {
    await relay.close();
  }
  return { ms: performance.now() - started };
}

async function rehearse(relay: Relay, app: Hono<any>, deps: WarmUpDeps): Promise<void> {
  const native = deps.provider.preferredFormat;
  await relay.directory.open(STREAM);
  const sinks = [
    listen(relay, native, false),
    listen(relay, native, true),
    ...CONVERTED.map((format) => listen(relay, format, false)),
  ];
  const loopback = await deps.runtime.serveLoopback?.(app.fetch);
  const send: LoopbackServer['request'] = loopback
    ? (path, init) => loopback.request(path, init)
    : async (path, init) => {
        const response = await app.request(path, init);
        await response.arrayBuffer();
        return response.status;
      };
  try {
    const authorization = `Bearer ${deps.config.adminKeys[0]}`;
    const status = await send(`/v1/streams/${STREAM}/speak`, { method: 'POST', headers: { authorization, 'content-type': 'text/plain; charset=utf-8' }, body: TEXT });
    if (status !== 202) throw new Error(`the rehearsal's speak answered ${status}`);
    await withTimeout(Promise.all(sinks), TIMEOUT_MS);
    await send(`/v1/streams/${STREAM}`, { method: 'GET', headers: { authorization } });
    await send(`/v1/streams/${STREAM}/cancel`, { method: 'POST', headers: { authorization } });
  } finally {
    await loopback?.close();
  }
}

/** A listener of the private relay that takes every frame and resolves at its utterance's end. */
function listen(relay: Relay, format: AudioFormat, timing: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket: ListenerSocket = {
      send: (data) => {
        if (typeof data === 'string' && data.includes('"utterance_end"')) resolve();
      },
      close: () => resolve(),
      bufferedAmount: () => 0,
      isOpen: () => true,
    };
    relay.listeners.add(STREAM, format, socket, { timing });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the rehearsal did not end within ${ms} ms`)), ms);
    unrefTimer(timer);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
