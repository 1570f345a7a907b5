/**
 * WebSocket publishing (`GET /v1/streams/{stream}/publish`): JSON text, flush, end, cancel and interrupt
 * messages become utterances on the stream, each answered in order by one `ack` or `error`.
 *
 * Flow control: a text message is accepted (acked) at once, but the next one waits while the publisher's
 * utterance holds `RELAY_PUBLISH_MAX_PENDING_CHARS` characters not yet spoken (text queued, in synthesis, or
 * synthesized and not yet released), or while the stream's queue is full and a new utterance is needed.
 * Messages that arrive meanwhile wait in the inbox (publish-inbox.ts), which pushes back on the socket.
 * Cancel and interrupt act on arrival, ahead of waiting text (which they drop), as long as the socket is read.
 */
import type { Context } from 'hono';
import { errorInfo, RelayError, toRelayError } from '../../shared/errors.ts';
import { sleep } from '../../shared/timers.ts';
import {
  parsePublishClientMessage,
  PUBLISH_PROTOCOL_VERSION,
  type PublishAck,
  type PublishClientMessage,
  type PublishServerMessage,
} from '../../shared/publish-protocol.ts';
import { type Env, type RuntimeAdapter, type RuntimeSocket, SOCKET_STATE } from '../runtime/contract.ts';
import { authorize, type Principal, watchRevocation } from '../security/auth.ts';
import { type InboxItem, PublishInbox } from './publish-inbox.ts';
import { naming, PublisherUtterances, utteranceEnd } from './publisher-utterances.ts';
import { newId } from '../core/ids.ts';
import type { IngressContext } from './context.ts';
import type { UtteranceHandle } from '../core/stream-directory.ts';
import { upgradeTextSession } from './text-session.ts';
import { checkVoice } from './voice-check.ts';

// How often a waiting publisher rechecks the stream's queue and its utterance's progress.
const WAIT_POLL_MS = 20;
// A speaking utterance that released nothing for this long has nothing left in synthesis: count it all spoken.
const STALL_MS = 1500;

export function publishRoute(ingress: IngressContext, runtime: RuntimeAdapter) {
  return async (c: Context<Env>, name: string): Promise<Response> => {
    const principal = c.get('principal');
    authorize(principal, 'speak', name);
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new RelayError('bad_request', 'This route is a WebSocket: connect with a WebSocket client (Upgrade: websocket).');
    }
    await ingress.directory.open(name);
    const watch = (onRevoked: () => void) => watchRevocation(ingress.auth, principal, onRevoked);
    return upgradeTextSession(c, runtime, (ws) => new PublishSession(ingress, runtime, ws, name, principal), 'Publishers send JSON text frames.', watch);
  };
}

class PublishSession {
  private readonly id = newId('pub');
  private readonly maxPending: number;
  private readonly inbox: PublishInbox;
  private closed = false;
  /** Bumped by cancel and interrupt: work begun before them is dropped when it resumes. */
  private epoch = 0;
  /** The utterance text goes to; after an external cancel it stays here, ended, and swallows text until `end`. */
  private open: UtteranceHandle | null = null;
  private readonly owned: PublisherUtterances;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ingress: IngressContext,
    private readonly runtime: RuntimeAdapter,
    private readonly ws: RuntimeSocket,
    private readonly stream: string,
    private readonly principal: Principal,
  ) {
    this.maxPending = ingress.limits.publishMaxPendingChars;
    this.inbox = new PublishInbox({
      maxPending: this.maxPending,
      maxUtteranceChars: ingress.limits.maxUtteranceChars,
      reading: runtime.pauseReading ? { pause: () => runtime.pauseReading?.(ws), resume: () => runtime.resumeReading?.(ws) } : null,
      handle: (item) => this.handle(item),
      fail: (error) => this.fail(error),
    });
    this.owned = new PublisherUtterances(ingress.now);
    this.unsubscribe = ingress.events.subscribe(stream, (event) => this.owned.observe(event));
    this.send({ type: 'ready', protocol: PUBLISH_PROTOCOL_VERSION, stream, publisher_id: this.id, max_pending_chars: this.maxPending });
  }

  receive(data: string): void {
    if (this.closed) return;
    const parsed = parsePublishClientMessage(data);
    if (!parsed.ok) {
      this.inbox.push({ kind: 'invalid', reason: parsed.reason, ...(parsed.seq !== undefined ? { seq: parsed.seq } : {}) });
      return;
    }
    const { message } = parsed;
    if (message.type === 'cancel' || message.type === 'interrupt') {
      this.control(message);
      return;
    }
    this.inbox.push({ kind: 'message', message, dropped: false });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.epoch++;
    this.inbox.close();
    this.unsubscribe();
    // What was accepted is spoken; the publisher going away only ends its open utterance.
    if (this.open && !this.open.ended) this.open.end();
  }

  private async handle(item: InboxItem): Promise<void> {
    if (item.kind === 'reply') this.send(await item.reply);
    else if (item.kind === 'invalid') this.sendError(new RelayError('invalid_message', item.reason), item.seq);
    else await this.process(item.message, item.dropped);
  }

  private async process(message: PublishClientMessage, dropped: boolean): Promise<void> {
    const seq = message.seq;
    if (dropped) {
      this.ack({ for: message.type, seq, dropped: true });
      return;
    }
    try {
      switch (message.type) {
        case 'text':
          await this.text(message);
          return;
        case 'flush': {
          const open = this.open && !this.open.ended ? this.open : null;
          open?.flush();
          this.ack({ for: 'flush', seq, ...naming(open) });
          return;
        }
        case 'end': {
          const open = this.open;
          open?.end();
          this.open = null;
          this.ack({ for: 'end', seq, ...naming(open) });
          return;
        }
        default:
          return;
      }
    } catch (error) {
      this.sendError(toRelayError(error, 'bad_request'), seq);
    }
  }

  private async text(message: Extract<PublishClientMessage, { type: 'text' }>): Promise<void> {
    const epoch = this.epoch;
    const { seq } = message;
    if (!this.open) {
      if (message.text.trim() === '') {
        this.ack({ for: 'text', seq });
        return;
      }
      if (message.interrupt) authorize(this.principal, 'cancel', this.stream);
      const opened = await this.openUtterance(message, epoch);
      if (!opened) {
        this.ack({ for: 'text', seq, dropped: true });
        return;
      }
    }
    const open = this.open!;
    if (open.ended) {
      // Cancelled from elsewhere (another publisher's interrupt, HTTP cancel): the rest of it is not spoken.
      this.ack({ for: 'text', seq, ...naming(open), dropped: true });
      return;
    }
    open.write(message.text);
    this.owned.progressOf(open.id)?.wrote(message.text);
    this.ack({ for: 'text', seq, ...naming(open) });
    await this.roomAfter(open, epoch);
  }

  /** Opens this publisher's next utterance, waiting while the stream's queue is full; null when overtaken. */
  private async openUtterance(message: Extract<PublishClientMessage, { type: 'text' }>, epoch: number): Promise<UtteranceHandle | null> {
    const voice = await checkVoice(this.ingress.provider, message.voice);
    for (;;) {
      if (this.closed || this.epoch !== epoch) return null;
      try {
        const utterance = await this.ingress.directory.enqueue(
          this.stream,
          {
            receivedAt: this.ingress.now(),
            buffering: 'relay',
            ...(voice ? { voice } : {}),
            ...(message.language ? { language: message.language } : {}),
          },
          { interrupt: message.interrupt === true },
        );
        if (this.closed || this.epoch !== epoch) {
          // Overtaken while the queue answered: the publisher cancelled or went away meanwhile.
          utterance.end();
          return null;
        }
        this.adopt(utterance);
        return utterance;
      } catch (error) {
        if (!(error instanceof RelayError) || error.code !== 'queue_full') throw error;
      }
      await sleep(WAIT_POLL_MS);
    }
  }

  private adopt(utterance: UtteranceHandle): void {
    this.open = utterance;
    this.owned
      .adopt(utterance, (result) => this.send(utteranceEnd(utterance, result)))
      .catch((error: unknown) => this.ingress.logger.error('publisher utterance end failed', { stream: this.stream, error }));
  }

  /** Holds the inbox while the utterance has too much text unspoken. */
  private async roomAfter(utterance: UtteranceHandle, epoch: number): Promise<void> {
    const progress = this.owned.progressOf(utterance.id);
    if (!progress) return;
    while (!this.closed && this.epoch === epoch && !utterance.ended && progress.unspoken >= this.maxPending) {
      if (progress.started && this.ingress.now() - progress.lastProgressAt > STALL_MS) progress.catchUp();
      else await sleep(WAIT_POLL_MS);
    }
  }

  /** Cancel and interrupt act now; their ack follows the replies to everything sent before them. */
  private control(message: Extract<PublishClientMessage, { type: 'cancel' | 'interrupt' }>): void {
    const { seq } = message;
    const act = async (): Promise<string[]> => {
      if (message.type === 'interrupt') {
        authorize(this.principal, 'cancel', this.stream);
        this.dropWaiting();
        if (this.open) this.open = null;
        return await this.ingress.directory.cancel(this.stream, true);
      }
      const target = message.utterance_id !== undefined ? this.owned.get(message.utterance_id) : this.defaultCancelTarget();
      if (message.utterance_id !== undefined && !target) throw new RelayError('utterance_not_found', `No utterance ${message.utterance_id} of this publisher is going.`);
      if (!target) return [];
      if (target === this.open) {
        this.dropWaiting();
        this.open = null;
      }
      return (await this.ingress.directory.cancelUtterance(this.stream, target.id)) ? [target.id] : [];
    };
    const reply = act().then(
      async (cancelled): Promise<PublishServerMessage> => {
        const heard = await this.owned.heardOf(cancelled, (id) => this.ingress.outcomes.of(this.stream, id));
        return { type: 'ack', for: message.type, ...(seq !== undefined ? { seq } : {}), cancelled, ...(heard ? { heard } : {}) };
      },
      (error: unknown) => errorReply(toRelayError(error), seq),
    );
    this.inbox.push({ kind: 'reply', reply });
  }

  private defaultCancelTarget(): UtteranceHandle | undefined {
    if (this.open && !this.open.ended) return this.open;
    return this.owned.latestGoing();
  }

  /** Everything waiting is dropped (acked as such, in order) and work in progress stops at its next check. */
  private dropWaiting(): void {
    this.epoch++;
    this.inbox.dropWaiting();
  }

  private ack(fields: Omit<PublishAck, 'type'>): void {
    const { seq, ...rest } = fields;
    this.send({ type: 'ack', ...(seq !== undefined ? { seq } : {}), ...rest });
  }

  private sendError(error: RelayError, seq?: number): void {
    this.send(errorReply(error, seq));
  }

  /** A fatal error: tell the publisher, then close with the error's close code. */
  private fail(error: RelayError): void {
    if (this.closed) return;
    this.sendError(error);
    try {
      this.ws.close(error.closeCode, error.code);
    } catch {
      // Already closing.
    }
    this.close();
  }

  private send(message: PublishServerMessage): void {
    if (this.ws.readyState !== SOCKET_STATE.open) return;
    try {
      this.ws.send(JSON.stringify(message));
    } catch (error) {
      this.ingress.logger.warn('publisher send failed', { stream: this.stream, publisher_id: this.id, error });
    }
  }
}

function errorReply(error: RelayError, seq?: number): PublishServerMessage {
  return { type: 'error', ...(seq !== undefined ? { seq } : {}), error: errorInfo(error) };
}
