/** The first text of a Cartesia context, which must not be only whitespace. */

/** Holds back leading whitespace: Cartesia rejects an empty first transcript. */
export class LeadingWhitespace {
  private held = '';
  /** Whether any text other than whitespace has been admitted. */
  started = false;

  /** The text to send, with whitespace held so far in front; null while only whitespace has come. */
  admit(text: string): string | null {
    if (this.started) return text;
    if (text.trim() === '') {
      this.held += text;
      return null;
    }
    this.started = true;
    const admitted = this.held + text;
    this.held = '';
    return admitted;
  }
}
