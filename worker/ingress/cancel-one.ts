/** Cancels one utterance for an ingress (a publisher's, a Cartesia context's), wherever its stream's queue lives. */
import { RelayError } from '../../shared/errors.ts';
import type { Relay } from '../core/relay.ts';
import type { UtteranceHandle } from '../core/stream-directory.ts';
import { Utterance } from '../core/utterance.ts';

/** False when the utterance had already ended. */
export async function cancelOne(relay: Relay, stream: string, handle: UtteranceHandle): Promise<boolean> {
  if (handle.ended) return false;
  // The queue is in this process: the handle is the stream's own utterance, queued or speaking.
  if (handle instanceof Utterance) return relay.existingStream(stream)?.cancelUtterance(handle) ?? false;
  // The queue is shared across instances, and the directory cancels by position: the current utterance
  // by a cancel; a queued one, which it cannot pick out, by ending its input as failed.
  const status = await relay.directory.status(stream);
  if (status?.current?.utterance_id === handle.id) return (await relay.directory.cancel(stream, false)).includes(handle.id);
  handle.fail(new RelayError('bad_request', 'Cancelled before it started speaking.'));
  return true;
}
