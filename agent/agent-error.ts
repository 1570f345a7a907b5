/** The agent's one error type: a stable code, a message that says what to do, and the process exit code. */

export type AgentErrorCode =
  | 'usage'
  | 'ffplay_not_found'
  | 'ffplay_failed'
  | 'relay_refused'
  | 'relay_unreachable'
  | 'relay_error'
  | 'format_changed'
  | 'output_failed';

/** Exit code for bad arguments, as in most Unix tools. */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  readonly exitCode: number;

  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.exitCode = code === 'usage' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

export function usageError(message: string): AgentError {
  return new AgentError('usage', message);
}
