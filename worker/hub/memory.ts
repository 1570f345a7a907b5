/** The single-process hub: synchronous delivery to the subscribers of a stream. */
import type { Hub, HubEvent, HubHandler } from './hub.ts';

export class MemoryHub implements Hub {
  readonly name = 'memory';
  private readonly subscribers = new Map<string, Set<HubHandler>>();

  constructor(private readonly onHandlerError: (error: unknown) => void = () => {}) {}

  publish(stream: string, event: HubEvent): void {
    const handlers = this.subscribers.get(stream);
    if (!handlers) return;
    for (const handler of handlers) {
      try {
        handler(event);
      } catch (error) {
        this.onHandlerError(error);
      }
    }
  }

  subscribe(stream: string, handler: HubHandler): () => void {
    let handlers = this.subscribers.get(stream);
    if (!handlers) this.subscribers.set(stream, (handlers = new Set()));
    handlers.add(handler);
    return () => {
      handlers.delete(handler);
      if (handlers.size === 0 && this.subscribers.get(stream) === handlers) this.subscribers.delete(stream);
    };
  }

  async close(): Promise<void> {
    this.subscribers.clear();
  }
}
