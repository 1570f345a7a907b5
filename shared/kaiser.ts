/** Kaiser's window and his estimates of its shape and length for a filter's stopband attenuation and transition band. */

/** Modified Bessel function of the first kind, order 0, by its power series. */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const quarterSquare = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= quarterSquare / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

/** The window's shape parameter for `stopbandDb` of attenuation (above 50 dB). */
export function kaiserBeta(stopbandDb: number): number {
  return 0.1102 * (stopbandDb - 8.7);
}

/** Taps needed for `stopbandDb` over a transition band `transition` wide (a fraction of the sample rate). */
export function kaiserLength(stopbandDb: number, transition: number): number {
  return (stopbandDb - 7.95) / (2.285 * 2 * Math.PI * transition);
}
