/** The operations asked of one Cartesia context, kept until Cartesia answers so they can be replayed. */
import type { TextInput } from '../../core/text-input.ts';

/**
 * What was asked of a context and not yet sent, plus, until Cartesia answers, what was sent: a context that
 * loses its socket before any answer is sent again from the start on a fresh one.
 */
export class OperationLog {
  private readonly operations: TextInput[] = [];
  private sent = 0;
  private answered = false;

  add(operation: TextInput): void {
    this.operations.push(operation);
  }

  /** The operations not sent yet, in order; they count as sent from now on. */
  takeUnsent(): TextInput[] {
    const unsent = this.operations.slice(this.sent);
    this.sent = this.operations.length;
    this.forgetSentOnceAnswered();
    return unsent;
  }

  /** A fresh socket: everything kept goes out again. */
  rewind(): void {
    this.sent = 0;
  }

  /** Cartesia answered: the context can no longer be replayed. */
  markAnswered(): void {
    if (this.answered) return;
    this.answered = true;
    this.forgetSentOnceAnswered();
  }

  get isAnswered(): boolean {
    return this.answered;
  }

  private forgetSentOnceAnswered(): void {
    if (!this.answered || this.sent === 0) return;
    this.operations.splice(0, this.sent);
    this.sent = 0;
  }
}
