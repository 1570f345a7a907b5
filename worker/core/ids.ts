/** Ids the relay hands out (`utt_…`, `lst_…`, `pub_…`): a prefix naming the kind, then 20 hex digits (random, or a series). */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
}

/**
 * Ids numbered in a series: a random start drawn once, then a counter. A holder keeps the number and spells the id
 * (the prefix, then 20 hex digits, as newId's) when it is read, so an idle listener holds no string for it.
 */
export class IdSeries {
  private readonly start: string;
  private last = 0;

  constructor(prefix: string) {
    this.start = newId(prefix).slice(0, -SERIAL_DIGITS);
  }

  next(): number {
    // Kept within 31 bits, so V8 stores it as a small integer, not a boxed double.
    this.last = (this.last + 1) & MAX_SERIAL;
    return this.last;
  }

  spell(serial: number): string {
    return this.start + serial.toString(16).padStart(SERIAL_DIGITS, '0');
  }
}

const SERIAL_DIGITS = 8;
const MAX_SERIAL = 0x7fffffff;
