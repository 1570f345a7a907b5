/** Turns a stream of text fragments (HTTP chunks, LLM tokens) into sentence- or clause-sized pieces. */

export interface AggregatorOptions {
  /** Cut at a comma, colon or dash once this many characters wait, so long sentences start early. */
  clauseChars?: number;
  /** Cut at the last space once this many characters wait with no boundary at all. */
  maxChars?: number;
}

// A sentence ends at terminal punctuation (plus closing quotes/brackets) followed by whitespace, or at a newline.
const SENTENCE_END = /[.!?…。！？]+["'”’)\]]*\s+|\n\s*/g;
const CLAUSE_END = /[,;:—–]\s+/g;
// A clause shorter than this sounds clipped on its own; keep it with the next one.
const MIN_CLAUSE_CHARS = 24;

export class SentenceAggregator {
  private buffer = '';
  private readonly clauseChars: number;
  private readonly maxChars: number;

  constructor(options: AggregatorOptions = {}) {
    this.clauseChars = options.clauseChars ?? 80;
    this.maxChars = options.maxChars ?? 400;
  }

  get pending(): string {
    return this.buffer;
  }

  /** Adds text; returns the pieces now complete, in order. */
  push(text: string): string[] {
    this.buffer += text;
    const pieces: string[] = [];
    for (let piece = this.take(); piece !== null; piece = this.take()) pieces.push(piece);
    return pieces;
  }

  /** Returns whatever is waiting (end of input or an idle pause), trimmed; '' when nothing is. */
  flush(): string {
    const rest = this.buffer.trim();
    this.buffer = '';
    return rest;
  }

  private take(): string | null {
    const cut = firstMatchEnd(SENTENCE_END, this.buffer, 0) ?? this.longCut();
    if (cut === null) return null;
    const piece = this.buffer.slice(0, cut).trim();
    this.buffer = this.buffer.slice(cut);
    return piece === '' ? (this.buffer.trim() === '' ? null : this.take()) : piece;
  }

  private longCut(): number | null {
    if (this.buffer.length >= this.clauseChars) {
      const clause = firstMatchEnd(CLAUSE_END, this.buffer, MIN_CLAUSE_CHARS);
      if (clause !== null) return clause;
    }
    if (this.buffer.length >= this.maxChars) {
      const space = this.buffer.lastIndexOf(' ', this.maxChars);
      return space > 0 ? space + 1 : this.maxChars;
    }
    return null;
  }
}

/** End index of the first match of `pattern` in `text`: the first complete piece comes out first. */
function firstMatchEnd(pattern: RegExp, text: string, from: number): number | null {
  pattern.lastIndex = from;
  const match = pattern.exec(text);
  return match ? match.index + match[0].length : null;
}

/** Splits complete text into sentences for synthesis, keeping each piece sentence-sized. */
export function splitSentences(text: string, options?: AggregatorOptions): string[] {
  const aggregator = new SentenceAggregator(options);
  const pieces = aggregator.push(text);
  const rest = aggregator.flush();
  if (rest !== '') pieces.push(rest);
  return pieces;
}
