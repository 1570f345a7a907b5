/** A context's SDK sends, one after the other in the order asked. */
import type { Logger } from '../../ops/logger.ts';

export class SendChain {
  private last: Promise<void> = Promise.resolve();
  private inFlight = 0;

  constructor(
    private readonly logger: Logger,
    private readonly contextId: string,
  ) {}

  /**
   * Runs `send` after the sends before it; a failure is logged and does not stop the ones after it. With none in
   * flight it starts at once: behind a settled promise it would wait a microtask, behind the request's own response.
   */
  run(send: () => Promise<void>): void {
    const started = this.inFlight === 0 ? send() : this.last.then(send);
    this.inFlight++;
    this.last = started
      .catch((error: unknown) => this.logger.warn('Cartesia send failed', { context: this.contextId, error }))
      .finally(() => void this.inFlight--);
  }
}
