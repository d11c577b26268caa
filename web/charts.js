// charts.js — the report's charts, drawn as plain SVG (no library): a gauge
// against a reference line, horizontal bars, grouped vertical bars. Each
// scales with its box (viewBox) and carries a <title> for screen readers.
import { s } from './dom.js';

const W = 480; // viewBox width; heights depend on the chart
const CHART_PX = 14; // .chart text's font-size in style.css
const LABEL_PX = 11; // .vbars .label's font-size in style.css
const TILT = 35; // degrees: bar labels too wide for their bar are drawn slanted

// About how wide text is at size px: a CJK character is square, a digit or
// a lower-case letter about 0.55 of the size (system sans fonts).
function textWidth(text, px) {
  let w = 0;
  for (const ch of String(text)) w += ch.codePointAt(0) >= 0x1100 ? px : 0.55 * px;
  return w;
}

// A bar from 0 to 100% filled to rate, with a marked line at ref (0..1).
export function gauge(rate, ref, refLabel, label) {
  const H = 64, x0 = 8, w = W - 16, y = 18, bh = 22;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart gauge', role: 'img' }, s('title', null, label));
  svg.append(s('rect', { x: x0, y, width: w, height: bh, rx: 4, class: 'track' }));
  if (rate != null) svg.append(s('rect', { x: x0, y, width: Math.max(0, Math.min(1, rate)) * w, height: bh, rx: 4, class: rate >= ref ? 'fill good' : 'fill' }));
  const rx = x0 + ref * w;
  svg.append(s('line', { x1: rx, x2: rx, y1: y - 6, y2: y + bh + 6, class: 'ref' }));
  svg.append(s('text', { x: Math.min(rx, W - 8), y: y + bh + 20, 'text-anchor': ref > 0.8 ? 'end' : 'middle', class: 'ref-label' }, refLabel));
  for (const p of [0, 0.5]) svg.append(s('text', { x: x0 + p * w + 2, y: y - 5, class: 'axis' }, Math.round(p * 100) + '%'));
  return svg;
}

// Horizontal bars, one per item {label, value (0..1 or null), text}. The
// labels' column is as wide as the widest label (at most 150), so that a
// village's name of three characters leaves the rest to the bars.
export function hbars(items, label, ref) {
  const widest = Math.max(0, ...items.map((it) => textWidth(it.label, CHART_PX)));
  const row = 26, lw = Math.round(Math.min(150, Math.max(40, widest + 4))), x0 = lw + 8, w = W - x0 - 56;
  const H = Math.max(1, items.length) * row + 8;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart hbars', role: 'img' }, s('title', null, label));
  items.forEach((it, i) => {
    const y = 4 + i * row;
    svg.append(s('text', { x: lw, y: y + 16, 'text-anchor': 'end', class: 'label' }, it.label));
    svg.append(s('rect', { x: x0, y: y + 3, width: w, height: row - 8, rx: 3, class: 'track' }));
    if (it.value != null) svg.append(s('rect', { x: x0, y: y + 3, width: Math.max(0, Math.min(1, it.value)) * w, height: row - 8, rx: 3, class: 'fill' }));
    svg.append(s('text', { x: x0 + w + 6, y: y + 16, class: 'value' }, it.text));
  });
  if (ref != null) {
    const rx = x0 + ref * w;
    svg.append(s('line', { x1: rx, x2: rx, y1: 0, y2: H, class: 'ref' }));
  }
  return svg;
}

// Vertical bars: groups [{label, values: [n, …], highlight}], one colour per
// series (series: [name, …]); band: {from, to, text} draws a highlighted
// background behind groups from..to. When a label is wider than its group
// ("placement" under 8 kinds) every label is slanted and the chart grows
// taller to hold them, rather than letting neighbours overlap.
export function vbars(groups, series, label, band) {
  const top = 28, left = 36, right = 8, ph = 152, pw = W - left - right;
  const gw = pw / Math.max(1, groups.length);
  const widest = Math.max(0, ...groups.map((g) => textWidth(g.label, LABEL_PX)));
  const tilt = widest > gw - 4;
  // Room below the axis for the slanted text, with a margin for the guess and for bold labels.
  const bottom = tilt ? Math.ceil(12 + LABEL_PX + 1.2 * widest * Math.sin(TILT * Math.PI / 180)) : 40;
  const H = top + ph + bottom;
  const max = Math.max(1, ...groups.flatMap((g) => g.values));
  const step = niceStep(max);
  const ymax = Math.ceil(max / step) * step;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart vbars', role: 'img' }, s('title', null, label));
  if (band) {
    const x = left + band.from * gw, w = (band.to - band.from + 1) * gw;
    svg.append(s('rect', { x: x + 1, y: 2, width: w - 2, height: H - bottom + 2, rx: 6, class: 'band' }));
    svg.append(s('text', { x: x + w / 2, y: 16, 'text-anchor': 'middle', class: 'band-label' }, band.text));
  }
  for (let v = 0; v <= ymax; v += step) {
    const y = top + ph - (v / ymax) * ph;
    svg.append(s('line', { x1: left, x2: W - right, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', class: 'axis' }, v));
  }
  const bw = Math.min(28, (gw - 8) / series.length);
  groups.forEach((g, i) => {
    const gx = left + i * gw + (gw - bw * series.length) / 2;
    g.values.forEach((v, k) => {
      const bh = (v / ymax) * ph;
      svg.append(s('rect', { x: gx + k * bw, y: top + ph - bh, width: bw - 2, height: bh, class: `bar s${k}` + (g.highlight ? ' hl' : '') },
        s('title', null, `${g.label} · ${series[k]}: ${v}`)));
      if (series.length === 1 || groups.length <= 8) {
        svg.append(s('text', { x: gx + k * bw + (bw - 2) / 2, y: top + ph - bh - 3, 'text-anchor': 'middle', class: 'bar-value' }, v));
      }
    });
    const lx = left + i * gw + gw / 2, ly = top + ph + (tilt ? 12 : 16);
    svg.append(s('text', {
      x: lx, y: ly, 'text-anchor': tilt ? 'end' : 'middle', transform: tilt ? `rotate(-${TILT} ${lx} ${ly})` : null,
      class: 'label' + (g.highlight ? ' hl' : ''),
    }, g.label));
  });
  return svg;
}

function niceStep(max) {
  const raw = max / 4, p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return Math.max(1, m * p);
  return Math.max(1, 10 * p);
}
