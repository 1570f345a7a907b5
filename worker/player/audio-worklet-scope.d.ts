/** The AudioWorkletGlobalScope, which TypeScript's DOM library leaves out; typed as a module so nothing else sees it. */
export interface AudioWorkletProcessorBase {
  readonly port: MessagePort;
}

export interface AudioWorkletScope {
  AudioWorkletProcessor: { new (): AudioWorkletProcessorBase };
  registerProcessor(name: string, processor: { new (): AudioWorkletProcessorBase }): void;
  /** The context's rate, fixed for the scope's life. */
  readonly sampleRate: number;
  /** Context time of the first frame of the quantum being rendered. */
  readonly currentTime: number;
}
