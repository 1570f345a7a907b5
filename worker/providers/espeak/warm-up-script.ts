/** What the engine speaks at start, nobody hearing it, so that a first utterance finds it warm. */

/** Spoken once at start and thrown away, so the first utterance does not pay for the engine's first synthesis. */
export const WARM_UP_TEXT = 'Ready.';
/**
 * Spoken in the background after start until the engine is warm: espeak-ng here is JavaScript (wasm2js), and
 * V8 optimises its large functions only after a few sentences' work — before that a sentence costs ~50× more
 * (1.2 s vs 22 ms measured at load 19). Short pieces, so a real utterance that arrives meanwhile (which stops
 * the warm-up) waits for at most one of them.
 */
export const WARM_UP_PIECES = [
  'The kettle is on.',
  'Every listener hears the same words.',
  'Audio is released a little ahead of real time.',
  'Nothing waits for the whole text, seven, eight, nine, ten.',
  'Quick brown foxes jump over lazy dogs, twice.',
  'A slow listener is dropped before it holds the others back.',
];
/**
 * Rounds over WARM_UP_PIECES: 36 short pieces, 24 of them whole sentences (about 40 s of speech). With 16 whole
 * (4 rounds), Bun's engine thread still took 2-6 ms to the first chunk of each of a relay's first utterances
 * against ~0.7 later (stage timings).
 */
export const WARM_UP_ROUNDS = 6;
/**
 * Every WARM_UP_CUT_EVERYth piece is cancelled at its first audio, as a barge-in cuts a sentence short, so the
 * engine's stopping path is warm too. Measured on the engine alone after the 24 pieces: without cuts, the first
 * 6–8 sentences that followed a cancel took ~7 ms to a first chunk, with them ~0.8 ms from the first on (and
 * fewer 5–35 ms spikes on whole sentences).
 */
export const WARM_UP_CUT_EVERY = 3;
/** How long the engine rests after the pieces before the one that follows them. */
export const SETTLE_PAUSE_MS = 500;
