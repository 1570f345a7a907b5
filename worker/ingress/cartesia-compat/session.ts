/**
 * One Cartesia-compatible WebSocket: parses the client's frames, opens and routes its contexts (run side by
 * side, up to a bound), and ends them as Cartesia does: an idle open context expires, closing the socket
 * cancels the contexts still generating, an id that finished cannot be reused.
 */
import { bytesPerSecond } from '../../../shared/audio-format.ts';
import {
  type CartesiaCancelRequest,
  type CartesiaGenerationRequest,
  type CartesiaServerMessage,
  cartesiaChangedField,
  cartesiaRefusal,
  parseCartesiaClientMessage,
} from '../../../shared/cartesia-messages.ts';
import { RelayError, toRelayError } from '../../../shared/errors.ts';
import type { RuntimeAdapter, RuntimeSocket } from '../../runtime/contract.ts';
import type { CompatIngress } from './ingress.ts';
import { ClientContext, type ContextHost } from './context.ts';
import { concurrencyLimited, errorFrame } from './errors.ts';

/** Ids of finished contexts remembered per socket, so a reuse is refused as Cartesia refuses it. */
const FINISHED_IDS_KEPT = 1024;

export class CompatSession implements ContextHost {
  readonly requestId = crypto.randomUUID();
  readonly idleMs: number;
  private readonly active = new Map<string, ClientContext>();
  private readonly finishedIds = new Set<string>();
  private readonly maxContexts: number;
  private closed = false;
  /** Frames are applied one after another, so a context's inputs keep their order. */
  private work: Promise<void> = Promise.resolve();

  constructor(
    readonly ingress: CompatIngress,
    private readonly runtime: RuntimeAdapter,
    private readonly ws: RuntimeSocket,
    readonly stream: string,
  ) {
    this.idleMs = ingress.limits.compatContextIdleMs;
    this.maxContexts = ingress.limits.compatMaxContexts;
  }

  receive(data: string): void {
    if (this.closed) return;
    const parsed = parseCartesiaClientMessage(data);
    if (!parsed.ok) {
      this.send(errorFrame(new RelayError('invalid_message', parsed.reason), this.requestId, parsed.contextId));
      return;
    }
    const { message } = parsed;
    this.work = this.work
      .then(() => (message.kind === 'cancel' ? this.cancel(message.request) : this.generate(message.request)))
      .catch((error: unknown) => this.ingress.logger.error('cartesia client message failed', { stream: this.stream, error }));
  }

  /** The socket closed: contexts still generating are cancelled; those already done play out on the stream. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const context of [...this.active.values()]) context.cancel();
    this.active.clear();
  }

  /** Its API key was revoked: Cartesia's 401 error event, then the socket closes (and its contexts are cancelled). */
  revoked(): void {
    this.send(errorFrame(new RelayError('unauthorized', 'The API key of this connection was revoked.'), this.requestId));
  }

  finished(context: ClientContext): void {
    if (this.active.get(context.id) !== context) return;
    this.active.delete(context.id);
    this.finishedIds.add(context.id);
    if (this.finishedIds.size > FINISHED_IDS_KEPT) this.finishedIds.delete(this.finishedIds.values().next().value!);
  }

  send(message: CartesiaServerMessage): void {
    if (this.ws.readyState !== 1) return;
    if (message.type === 'chunk' && this.tooSlow()) return;
    try {
      this.ws.send(JSON.stringify(message));
    } catch (error) {
      this.ingress.logger.warn('cartesia client send failed', { stream: this.stream, error });
    }
  }

  private async generate(request: CartesiaGenerationRequest): Promise<void> {
    if (this.closed) return;
    const id = request.context_id;
    const existing = this.active.get(id);
    const refusal = this.refusal(request, existing);
    if (refusal) {
      // A refused continuation leaves the context as it was (Cartesia goes on generating what it had).
      if (existing && refusal.fatal) existing.fail(refusal.error);
      else this.send(errorFrame(refusal.error, this.requestId, id));
      return;
    }
    const context = existing ?? this.openContext(id, request);
    try {
      await context.apply(request);
    } catch (error) {
      context.fail(toRelayError(error, 'bad_request'));
    }
  }

  private refusal(request: CartesiaGenerationRequest, existing: ClientContext | undefined): { error: RelayError; fatal: boolean } | null {
    const bad = (message: string, fatal = false, code: 'bad_request' | 'empty_text' = 'bad_request') => ({ error: new RelayError(code, message), fatal });
    if (!existing) {
      if (this.finishedIds.has(request.context_id)) return bad(`Context ${request.context_id} has already finished; start a new context.`);
      const reason = cartesiaRefusal(request, this.ingress.synthesizer.upstreamFields);
      if (reason) return bad(reason);
      if (request.transcript.trim() === '' && !request.flush) return bad('The first transcript of a context must not be empty.', false, 'empty_text');
      if (this.active.size >= this.maxContexts) {
        return { error: concurrencyLimited(`This connection already has ${this.active.size} contexts generating (RELAY_COMPAT_MAX_CONTEXTS); wait for one to finish.`), fatal: false };
      }
      return null;
    }
    if (existing.inputEnded) return bad(`Context ${request.context_id} received continue: false and takes no more input.`);
    const changed = cartesiaChangedField(existing.first, request);
    if (changed) return bad(`${changed}: a context keeps every field but transcript, continue, flush and duration; open a new context to change it.`, true);
    return null;
  }

  private openContext(id: string, request: CartesiaGenerationRequest): ClientContext {
    const context = new ClientContext(id, request, this);
    this.active.set(id, context);
    return context;
  }

  private async cancel(request: CartesiaCancelRequest): Promise<void> {
    const context = this.active.get(request.context_id);
    if (!context) return;
    context.cancel(request.heard === true);
  }

  /** A client that does not read its audio would make the relay hold it without bound: it is disconnected. */
  private tooSlow(): boolean {
    const format = this.ingress.sourceFormat;
    if (this.runtime.bufferedAmount(this.ws) <= this.ingress.limits.listenerMaxBufferedSeconds * bytesPerSecond(format)) return false;
    const error = new RelayError('slow_listener', 'The client did not read its audio as fast as the provider made it.');
    this.ws.close(error.closeCode, error.code);
    return true;
  }
}
