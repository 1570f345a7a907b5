/** A context's input side: Cartesia's buffering (speak up to a sentence end, the rest after max_buffer_delay_ms), flushes, and its end. */
import { dropSocket } from './faults.ts';
import { send } from './frames.ts';
import { speak } from './speech.ts';
import type { Connection, EmulatedContext, EmulatorState, Item } from './state.ts';

const SENTENCE_BOUNDARY = /[.!?…]["')\]]*(\s+|$)/g;

/** Takes one request's transcript; `more` is its `continue`, `flush` its `flush`. */
export function input(state: EmulatorState, connection: Connection, context: EmulatedContext, transcript: string, more: boolean, flush: boolean): void {
  context.pending += transcript;
  const release = (text: string) => {
    if (text.trim() !== '') schedule(state, connection, context, { kind: 'speak', text });
  };
  if (flush || !more) {
    clearBufferTimer(context);
    release(context.pending);
    context.pending = '';
    if (flush) schedule(state, connection, context, { kind: 'flush' });
    if (!more) {
      context.inputClosed = true;
      schedule(state, connection, context, { kind: 'done' });
    }
    return;
  }
  if (context.bufferDelayMs === 0) {
    release(context.pending);
    context.pending = '';
    return;
  }
  buffer(context, release);
}

/** Buffering: speaks up to the last sentence boundary now, the rest when the buffer delay runs out. */
function buffer(context: EmulatedContext, release: (text: string) => void): void {
  let cut = 0;
  for (const match of context.pending.matchAll(SENTENCE_BOUNDARY)) cut = match.index + match[0].length;
  if (cut > 0) {
    release(context.pending.slice(0, cut));
    context.pending = context.pending.slice(cut);
  }
  if (context.pending.trim() !== '' && !context.bufferTimer) {
    context.bufferTimer = setTimeout(() => {
      context.bufferTimer = null;
      release(context.pending);
      context.pending = '';
    }, context.bufferDelayMs);
  } else if (context.pending.trim() === '') {
    clearBufferTimer(context);
  }
}

function clearBufferTimer(context: EmulatedContext): void {
  if (context.bufferTimer) clearTimeout(context.bufferTimer);
  context.bufferTimer = null;
}

function schedule(state: EmulatorState, connection: Connection, context: EmulatedContext, item: Item): void {
  context.work = context.work.then(() => run(state, connection, context, item)).catch(() => {});
}

async function run(state: EmulatorState, connection: Connection, context: EmulatedContext, item: Item): Promise<void> {
  if (context.finished || (context.cancelled && context.lateChunks <= 0)) return;
  if (item.kind === 'flush') {
    // The dropAfterFlush fault waits for the flush_done to be on its way: a cut socket loses what TLS had not yet sent.
    const drop = context.faults.dropAfterFlush ? () => dropSocket(state, connection) : undefined;
    send(state, connection, { type: 'flush_done', done: false, flush_done: true, flush_id: context.flushId, status_code: 206, context_id: context.id }, drop);
    context.flushId += 1;
    return;
  }
  if (item.kind === 'done') {
    if (context.cancelled) return;
    context.finished = true;
    send(state, connection, { type: 'done', done: true, status_code: 206, context_id: context.id });
    connection.contexts.delete(context.id);
    connection.closedContexts.add(context.id);
    return;
  }
  await speak(state, connection, context, item.text);
}
