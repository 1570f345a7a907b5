/** A filter's input history: samples appended at `length`, the buffer doubled when they do not fit. */
export function appendSamples(history: Float32Array, length: number, input: Float32Array): Float32Array {
  const needed = length + input.length;
  let buffer = history;
  if (needed > history.length) {
    buffer = new Float32Array(Math.max(needed, history.length * 2));
    buffer.set(history.subarray(0, length));
  }
  buffer.set(input, length);
  return buffer;
}
