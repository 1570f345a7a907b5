/**
 * A stand-in for Cartesia's TTS WebSocket (`wss://…/tts/websocket`) that speaks its documented protocol:
 * TLS with a test certificate, its auth forms and `cartesia-version`, request validation, continuations,
 * flushes, cancels, timestamps, and version-2026 error frames. The audio is real speech from the embedded
 * espeak-ng engine. Hooks inject faults per test. It does not depend on the relay; the benchmark uses it too.
 *
 * Modules: server (TLS, upgrade checks), rest (GET /voices), session (requests, contexts, cancel, idle close),
 * input (buffering, flushes), speech (audio and timestamps), frames (what is sent), faults, validation, auth, state.
 */
import type { AddressInfo } from 'node:net';
import { loadEspeakEngine } from '../../../worker/providers/espeak/engine.ts';
import { WARM_UP_PIECES, WARM_UP_ROUNDS } from '../../../worker/providers/espeak/warm-up-script.ts';
import { EMULATOR_API_KEY } from './auth.ts';
import { EMULATOR_VOICES } from './rest.ts';
import { createEmulatorServer, EMULATOR_CERT_FILE } from './server.ts';
import { resetIdle } from './session.ts';
import type { EmulatorSettings, EmulatorState } from './state.ts';
import type { CartesiaEmulator, EmulatorOptions, EmulatorStats } from './types.ts';

export { EMULATOR_API_KEY } from './auth.ts';
export { EMULATOR_VOICES } from './rest.ts';
export { EMULATOR_CERT_FILE } from './server.ts';
export type { CartesiaEmulator, EmulatedVoice, EmulatorFaults, EmulatorOptions, EmulatorStats, RequestRecord, UpgradeRecord } from './types.ts';

/** Starts the emulator on `port` (0: a free one). */
export async function startCartesiaEmulator(options: EmulatorOptions = {}): Promise<CartesiaEmulator> {
  const state = await createState(options);
  const { server, wss, cert } = createEmulatorServer(state);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${host}:${port}`,
    wssUrl: `wss://${host}:${port}/tts/websocket`,
    port,
    ca: cert,
    caFile: EMULATOR_CERT_FILE,
    stats: state.stats,
    faults: state.faults,
    ...controls(state),
    async close() {
      for (const connection of state.connections) {
        if (connection.idleTimer) clearTimeout(connection.idleTimer);
        connection.socket.terminate();
      }
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

/** The state of a new emulator, with the options' defaults filled in and the speech engine loaded. */
async function createState(options: EmulatorOptions): Promise<EmulatorState> {
  const settings: EmulatorSettings = {
    apiKeys: new Set(options.apiKeys ?? [EMULATOR_API_KEY]),
    tokens: new Set(options.accessTokens ?? []),
    firstChunkDelayMs: options.firstChunkDelayMs ?? 20,
    chunkIntervalMs: options.chunkIntervalMs ?? 2,
    chunkMs: options.chunkMs ?? 50,
    idleCloseMs: options.idleCloseMs ?? 300_000,
    lateChunksAfterCancel: options.lateChunksAfterCancel ?? 2,
    wordTimestamps: options.wordTimestamps !== false,
    voices: options.voices ?? EMULATOR_VOICES,
  };
  const stats: EmulatorStats = { upgrades: [], connections: 0, open: 0, contexts: 0, requests: [], sent: {}, errors: [], closes: [] };
  const engine = await loadEspeakEngine();
  if (options.warmUp) for (let round = 0; round < WARM_UP_ROUNDS; round++) for (const piece of WARM_UP_PIECES) engine.synthesize(piece);
  return { settings, engine, faults: { ...options.faults }, stats, connections: new Set(), ids: { connection: 0, request: 0 } };
}

/** What a test does to a running emulator: inject faults, cut sockets, change the idle close, read requests. */
function controls(state: EmulatorState): Pick<CartesiaEmulator, 'setFaults' | 'dropConnections' | 'setIdleClose' | 'requestsOf'> {
  return {
    setFaults(next) {
      Object.assign(state.faults, next);
    },
    dropConnections() {
      for (const connection of state.connections) {
        state.stats.closes.push({ connection: connection.id, code: 1006, reason: 'dropped by test', by: 'server' });
        connection.socket.terminate();
      }
    },
    setIdleClose(ms) {
      state.settings.idleCloseMs = ms;
      for (const connection of state.connections) resetIdle(state, connection);
    },
    requestsOf(contextId) {
      return state.stats.requests
        .map((r) => r.json)
        .filter((j): j is Record<string, unknown> => typeof j === 'object' && j !== null && !Array.isArray(j))
        .filter((j) => contextId === undefined || j.context_id === contextId);
    },
  };
}
