/** Fault injection: which faults a new context claims, and what they do after each of its chunks. */
import { failContext } from './frames.ts';
import type { Connection, ContextFaults, EmulatedContext, EmulatorState } from './state.ts';

/** The one-shot faults go to the next context (and `dropContexts` to the next `times` of them). */
export function claimFaults(state: EmulatorState): ContextFaults {
  const { faults } = state;
  const claimed: ContextFaults = {};
  if (faults.dropAfterChunks !== undefined) claimed.dropAfterChunks = faults.dropAfterChunks;
  if (faults.dropAfterFlush) claimed.dropAfterFlush = true;
  if (faults.dropContexts && faults.dropContexts.times > 0) {
    claimed.dropAfterChunks = faults.dropContexts.afterChunks;
    faults.dropContexts.times -= 1;
  }
  if (faults.stallAfterChunks !== undefined) claimed.stallAfterChunks = faults.stallAfterChunks;
  if (faults.errorAfterChunks !== undefined) claimed.errorAfterChunks = faults.errorAfterChunks;
  if (faults.garbageBeforeChunks !== undefined) claimed.garbageBeforeChunks = faults.garbageBeforeChunks;
  delete faults.dropAfterChunks;
  delete faults.dropAfterFlush;
  delete faults.stallAfterChunks;
  delete faults.errorAfterChunks;
  delete faults.garbageBeforeChunks;
  return claimed;
}

/** Before a context's first chunk: `errorAfterChunks` with `chunks: 0` fails it with no audio at all; true when it did. */
export function faultBeforeAudio(state: EmulatorState, connection: Connection, context: EmulatedContext): boolean {
  const e = context.faults.errorAfterChunks;
  if (e === undefined || e.chunks > 0 || context.chunks > 0) return false;
  failContext(state, connection, context, { status: e.status_code, errorCode: e.error_code, title: e.title, message: e.message });
  return true;
}

/** After a chunk went out: cuts the socket, stalls it or fails the context when a claimed fault says so; true when it did. */
export function faultAfterChunk(state: EmulatorState, connection: Connection, context: EmulatedContext): boolean {
  const { faults: f, chunks } = context;
  if (f.dropAfterChunks !== undefined && chunks >= f.dropAfterChunks) {
    dropSocket(state, connection);
    return true;
  }
  if (f.stallAfterChunks !== undefined && chunks >= f.stallAfterChunks) {
    connection.stalled = true;
    return true;
  }
  if (f.errorAfterChunks !== undefined && chunks >= f.errorAfterChunks.chunks) {
    const e = f.errorAfterChunks;
    failContext(state, connection, context, { status: e.status_code, errorCode: e.error_code, title: e.title, message: e.message });
    return true;
  }
  return false;
}

/** Cuts the connection's socket without a close frame. */
export function dropSocket(state: EmulatorState, connection: Connection): void {
  state.stats.closes.push({ connection: connection.id, code: 1006, reason: 'injected drop', by: 'server' });
  connection.socket.terminate();
}
