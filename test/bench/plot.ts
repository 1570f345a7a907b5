/**
 * Growth curves as small hand-written SVG: one line per series (relay, baseline) over a log-scaled x axis
 * (listeners, streams), each point the median of its interleaved rounds with a bar from min to max.
 */

export interface CurvePoint {
  x: number;
  /** Median over the rounds; lo/hi the min and max. */
  y: number;
  lo: number;
  hi: number;
}

export interface Curve {
  /** File name stem: the plot is written as `<report stem>.<id>.svg`. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Array<{ name: string; points: CurvePoint[] }>;
  /** Shown under the title: machine, load, rounds. */
  subtitle?: string;
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 170, top: 56, bottom: 52 };
const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough;
  const ticks: number[] = [];
  for (let t = 0; t <= max + step * 0.001; t += step) ticks.push(Number(t.toPrecision(6)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(6)));
  return ticks;
}

const label = (v: number) => (Math.abs(v) >= 1000 ? v.toLocaleString('en-US') : String(Number(v.toPrecision(4))));

export function renderSvg(curve: Curve): string {
  const points = curve.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const yTicks = niceTicks(Math.max(...points.map((p) => (Number.isFinite(p.hi) ? p.hi : p.y)), 0));
  const yMax = yTicks[yTicks.length - 1]!;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const logMin = Math.log10(xs[0] ?? 1);
  const logSpan = Math.max(Math.log10(xs[xs.length - 1] ?? 10) - logMin, 1e-9);
  const px = (x: number) => MARGIN.left + (xs.length <= 1 ? plotW / 2 : ((Math.log10(x) - logMin) / logSpan) * plotW);
  const py = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="15" font-weight="bold">${escape(curve.title)}</text>`,
  ];
  if (curve.subtitle) out.push(`<text x="${MARGIN.left}" y="40" fill="#555">${escape(curve.subtitle)}</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const x of xs) out.push(`<text x="${px(x)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${label(x)}</text>`);
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`);
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escape(curve.xLabel)} (log scale)</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(curve.yLabel)}</text>`);
  curve.series.forEach((series, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const drawn = series.points.filter((p) => Number.isFinite(p.y));
    if (drawn.length > 1) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${drawn.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of drawn) {
      if (Number.isFinite(p.lo) && Number.isFinite(p.hi)) out.push(`<line x1="${px(p.x)}" x2="${px(p.x)}" y1="${py(p.lo)}" y2="${py(p.hi)}" stroke="${colour}" stroke-width="1.5"/>`);
      out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${colour}"/>`);
    }
    const ly = MARGIN.top + 10 + i * 20;
    out.push(`<line x1="${MARGIN.left + plotW + 14}" x2="${MARGIN.left + plotW + 34}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${MARGIN.left + plotW + 40}" y="${ly + 4}">${escape(series.name)}</text>`);
  });
  out.push(`<text x="${MARGIN.left + plotW + 14}" y="${MARGIN.top + 20 + curve.series.length * 20}" fill="#555" font-size="10">dot: median; bar: min–max</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
