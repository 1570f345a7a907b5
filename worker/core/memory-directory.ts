/** The stream directory of a single process: every stream's queue is here, and speaks where the request lands. */
import type { TTSContext } from '../providers/provider.ts';
import type { UtteranceOptions } from './utterance.ts';
import type { LocalStreams } from './local-streams.ts';
import type { Placement, QueueStatus, StreamDirectory, UtteranceHandle } from './stream-directory.ts';

export class MemoryDirectory implements StreamDirectory {
  constructor(private readonly streams: LocalStreams) {}

  async open(stream: string): Promise<void> {
    this.streams.open(stream);
  }

  async enqueue(stream: string, options: UtteranceOptions, placement: Placement = {}): Promise<UtteranceHandle> {
    return this.streams.open(stream).enqueue(options, placement);
  }

  async enqueueSynthesized(stream: string, options: UtteranceOptions, source: TTSContext): Promise<UtteranceHandle> {
    return this.streams.open(stream).enqueue(options, { source });
  }

  async cancel(stream: string, all: boolean): Promise<string[]> {
    return this.streams.get(stream)?.cancel(all) ?? [];
  }

  async cancelUtterance(stream: string, id: string): Promise<boolean> {
    return this.streams.get(stream)?.cancelUtterance(id) ?? false;
  }

  async names(): Promise<string[]> {
    return this.streams.names();
  }

  async status(stream: string): Promise<QueueStatus | null> {
    return this.streams.get(stream)?.status() ?? null;
  }

  async close(): Promise<void> {}
}
