/**
 * A minimal AudioWorkletGlobalScope in Node for the player's worklet: the processor base class with a port that keeps
 * what it posts, registerProcessor, the context's rate, and a clock the test advances one render quantum at a time.
 */

/** Frames per render quantum, as browsers render them. */
export const QUANTUM = 128;

export interface Posted {
  type: string;
  [key: string]: unknown;
}

interface Processor {
  port: { posted: Posted[]; onmessage: ((event: { data: unknown }) => void) | null };
  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean;
}

/** Loads worker/player/public/worklet.js into a fake scope at `sampleRate` (once per test file: the rate is fixed). */
export async function loadPlayerProcessor(sampleRate: number): Promise<new () => Processor> {
  const scope = globalThis as Record<string, unknown>;
  let registered: (new () => Processor) | undefined;
  Object.assign(scope, {
    sampleRate,
    currentTime: 0,
    AudioWorkletProcessor: class {
      port = {
        posted: [] as Posted[],
        onmessage: null,
        postMessage(message: Posted) {
          this.posted.push(message);
        },
      };
    },
    registerProcessor: (name: string, processor: new () => Processor) => {
      if (name === 'relay-player') registered = processor;
    },
  });
  await import('../../worker/player/public/worklet.js');
  if (!registered) throw new Error('worklet.js registered no relay-player processor');
  return registered;
}

/** Drives one processor: sends it messages, renders quanta on the scope's clock, keeps every frame it rendered. */
export class WorkletDriver {
  readonly processor: Processor;
  /** Frames rendered so far: the next quantum starts at context time frame / sampleRate. */
  frame = 0;
  readonly output: number[] = [];

  constructor(
    Processor: new () => Processor,
    readonly sampleRate: number,
  ) {
    (globalThis as Record<string, unknown>).currentTime = 0;
    this.processor = new Processor();
  }

  send(message: Record<string, unknown>): void {
    this.processor.port.onmessage?.({ data: message });
  }

  /** Sends `count` samples of `value` for `utterance` from sample `offset`, at `rate`. */
  audio(utterance: number, offset: number, count: number, rate = this.sampleRate, value = 0.5): void {
    this.send({ type: 'audio', samples: new Float32Array(count).fill(value), rate, utterance, offset });
  }

  /** Renders one quantum; returns it. */
  quantum(): Float32Array {
    (globalThis as Record<string, unknown>).currentTime = this.frame / this.sampleRate;
    const channel = new Float32Array(QUANTUM);
    this.processor.process([], [[channel]]);
    this.frame += QUANTUM;
    this.output.push(...channel);
    return channel;
  }

  /** Renders quanta until the clock reaches `frame` (a quantum boundary at or after it). */
  runTo(frame: number): void {
    while (this.frame < frame) this.quantum();
  }

  posted(type: string): Posted[] {
    return this.processor.port.posted.filter((message) => message.type === type);
  }

  lastPosition(): Posted {
    const positions = this.posted('position');
    const last = positions[positions.length - 1];
    if (!last) throw new Error('the worklet has reported no position yet');
    return last;
  }

  /** Index of the first rendered frame at or after `from` that is not silent; -1 if none. */
  firstSound(from = 0): number {
    return this.output.findIndex((value, index) => index >= from && value !== 0);
  }
}
