/** One WebSocket session: its requests parsed and recorded, contexts started, continued and cancelled, and its idle close. */
import type { WebSocket } from 'ws';
import { failContext, type EmulatorError, sendError } from './frames.ts';
import { claimFaults } from './faults.ts';
import { input } from './input.ts';
import { closeContext, Connection, EmulatedContext, type EmulatorState } from './state.ts';
import { fixedFields, validate } from './validation.ts';

const invalid = (message: string): EmulatorError => ({ status: 400, errorCode: 'invalid_request', title: 'Invalid request', message });

/** Takes an upgraded socket as a new connection. */
export function accept(state: EmulatorState, socket: WebSocket, version: string): void {
  const { stats } = state;
  const connection = new Connection(++state.ids.connection, socket, version);
  state.connections.add(connection);
  stats.connections += 1;
  stats.open += 1;
  resetIdle(state, connection);
  socket.on('message', (data, isBinary) => {
    resetIdle(state, connection);
    const raw = isBinary ? '' : data.toString();
    let json: unknown = null;
    try {
      json = isBinary ? null : JSON.parse(raw);
    } catch {
      json = null;
    }
    stats.requests.push({ connection: connection.id, raw, json });
    receive(state, connection, json);
  });
  socket.on('close', (code, reason) => {
    stats.open -= 1;
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    state.connections.delete(connection);
    for (const context of connection.contexts.values()) {
      context.cancelled = true;
      if (context.bufferTimer) clearTimeout(context.bufferTimer);
    }
    if (!stats.closes.some((c) => c.connection === connection.id)) stats.closes.push({ connection: connection.id, code, reason: reason.toString(), by: 'client' });
  });
  socket.on('error', () => {});
}

/** Restarts the connection's idle clock (Cartesia closes a socket that received nothing for idleCloseMs). */
export function resetIdle(state: EmulatorState, connection: Connection): void {
  if (connection.idleTimer) clearTimeout(connection.idleTimer);
  connection.idleTimer = setTimeout(() => {
    state.stats.closes.push({ connection: connection.id, code: 1000, reason: 'connection idle timeout', by: 'server' });
    connection.socket.close(1000, 'connection idle timeout');
  }, state.settings.idleCloseMs);
}

function receive(state: EmulatorState, connection: Connection, json: unknown): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return sendError(state, connection, null, invalid('Messages must be JSON objects.'));
  }
  const request = json as Record<string, unknown>;
  const contextId = typeof request.context_id === 'string' && request.context_id !== '' ? request.context_id : null;
  if (request.cancel === true) return cancel(state, connection, contextId);
  const problem = validate(request);
  if (problem) return sendError(state, connection, contextId, invalid(problem));
  if (!contextId) return sendError(state, connection, null, invalid('context_id is required.'));
  const context = connection.contexts.get(contextId) ?? startContext(state, connection, contextId, request);
  if (!context) return;
  if (context.inputClosed) {
    const error = { status: 400, errorCode: 'context_closed', title: 'Context closed', message: 'The context received continue: false and takes no more input.' };
    return sendError(state, connection, contextId, error);
  }
  if (fixedFields(request) !== context.fixed) {
    return failContext(state, connection, context, invalid('All fields except transcript, continue and flush must stay the same within a context.'));
  }
  input(state, connection, context, request.transcript as string, request.continue === true, request.flush === true);
}

/** A new context for the request, or null (with the error sent) when Cartesia would not start one. */
function startContext(state: EmulatorState, connection: Connection, contextId: string, request: Record<string, unknown>): EmulatedContext | null {
  if (connection.closedContexts.has(contextId)) {
    const message = `Context ${contextId} has already finished; start a new context.`;
    sendError(state, connection, contextId, { status: 400, errorCode: 'context_closed', title: 'Context closed', message });
    return null;
  }
  if ((request.transcript as string).trim() === '') {
    sendError(state, connection, contextId, { ...invalid('The first transcript of a context must not be empty.'), errorCode: 'empty_transcript' });
    return null;
  }
  const context = new EmulatedContext(contextId, request, claimFaults(state));
  connection.contexts.set(contextId, context);
  state.stats.contexts += 1;
  return context;
}

/** Cartesia's cancel: the context takes no more input, and only the chunks already generated still go out. */
function cancel(state: EmulatorState, connection: Connection, contextId: string | null): void {
  if (!contextId) return sendError(state, connection, null, invalid('A cancel request needs a context_id.'));
  const context = connection.contexts.get(contextId);
  if (!context) return;
  closeContext(connection, context);
  context.lateChunks = state.settings.lateChunksAfterCancel;
}
