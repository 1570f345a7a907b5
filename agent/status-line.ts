/** The agent's voice on stderr: one status line redrawn in place on a TTY, plain log lines otherwise. */
import type { Writable } from 'node:stream';

/** Progress redraws faster than this only cost CPU. */
const PROGRESS_INTERVAL_MS = 100;
const PREFIX = 'tts-agent: ';

export class StatusLine {
  readonly #out: Writable & { isTTY?: boolean; columns?: number };
  readonly #tty: boolean;
  #current = '';
  #lastLogged = '';
  #lastProgressAt = 0;

  constructor(out: Writable & { isTTY?: boolean; columns?: number }, options: { tty?: boolean } = {}) {
    this.#out = out;
    this.#tty = options.tty ?? out.isTTY === true;
  }

  get isTTY(): boolean {
    return this.#tty;
  }

  /** A change of state (connecting, connected, playing, reconnecting): redrawn on a TTY, logged once otherwise. */
  state(text: string): void {
    if (this.#tty) return this.#draw(text);
    if (text !== this.#lastLogged) this.#writeLine(text);
  }

  /** Frequent progress, such as seconds of audio received: only shown on a TTY, and throttled. */
  progress(text: string): void {
    if (!this.#tty) return;
    const now = Date.now();
    if (now - this.#lastProgressAt < PROGRESS_INTERVAL_MS) return;
    this.#lastProgressAt = now;
    this.#draw(text);
  }

  /** Something worth keeping in the scrollback: a line in both modes, under which the status is redrawn. */
  note(text: string): void {
    if (!this.#tty) return this.#writeLine(text);
    const current = this.#current;
    this.clear();
    this.#out.write(`${PREFIX}${text}\n`);
    if (current !== '') this.#draw(current);
  }

  /** Erases the status line so the shell prompt starts on a clean line. */
  clear(): void {
    if (!this.#tty || this.#current === '') return;
    this.#out.write('\r\x1b[2K');
    this.#current = '';
  }

  #draw(text: string): void {
    const width = Math.max(20, (this.#out.columns || 80) - 1);
    const line = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.#out.write(`\r\x1b[2K${line}`);
    this.#current = text;
  }

  #writeLine(text: string): void {
    this.#lastLogged = text;
    this.#out.write(`${PREFIX}${text}\n`);
  }
}
