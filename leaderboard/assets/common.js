/* Shared by the leaderboard's pages: DOM building (text only, never HTML strings), number formatting, SVG charts.
 * Every string from results reaches the page through textContent or setAttribute, so names cannot become markup. */
"use strict";

const LB = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MISSING = "—";

  function fill(node, attrs, children) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** An HTML element; attrs are set as attributes ("text" sets textContent, "on…" adds a listener). */
  function el(tag, attrs, ...children) {
    return fill(document.createElement(tag), attrs, children);
  }

  function svg(tag, attrs, ...children) {
    return fill(document.createElementNS(SVG_NS, tag), attrs, children);
  }

  /** The page's data, embedded by the builder as inert JSON. */
  function readData() {
    return JSON.parse(document.getElementById("site-data").textContent);
  }

  /** Only web addresses become links; anything else (javascript:, data:) stays text. */
  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\/[^\s"'<>]+$/.test(url) ? url : null;
  }

  function number(value, format, signed) {
    const shown = (value * format.scale).toFixed(format.digits);
    return signed && value > 0 ? "+" + shown : shown;
  }

  /** [value, ci_low, ci_high, n] as display parts; null (missing) stays missing, never 0. */
  function describe(cell, format, signed) {
    if (!cell || cell[0] === null || cell[0] === undefined) {
      return { missing: true, text: MISSING, ci: "", title: "missing: no result for this cell" };
    }
    const [value, low, high, n] = cell;
    const text = number(value, format, signed) + (format.unit || "");
    const ci = low !== null && low !== undefined && high !== null && high !== undefined
      ? `${number(low, format, signed)}–${number(high, format, signed)}` : "";
    const parts = [text];
    if (ci) parts.push(`95% CI ${ci}${format.unit || ""}`);
    if (n !== null && n !== undefined) parts.push(`n = ${n}`);
    return { missing: false, text, ci, title: parts.join(", ") };
  }

  /** A score cell's content: the value, its CI underneath; data-value carries the raw number for checks. */
  function scoreCell(tag, cell, format, opts = {}) {
    const shown = describe(cell, format, opts.signed);
    const node = el(tag, {
      class: ["num", shown.missing ? "missing" : "", opts.className || ""].join(" ").trim(),
      title: opts.title ? `${opts.title}: ${shown.title}` : shown.title,
      "data-value": shown.missing ? "" : cell[0],
      "data-col": opts.column,
    });
    node.append(el("span", { class: "v", text: shown.text }));
    if (opts.star) node.append(el("span", { class: "star", title: "significant after Holm correction", text: "★" }));
    if (opts.contamination) node.append(contaminationMark(opts.contamination, format));
    if (shown.ci) node.append(el("span", { class: "ci", text: shown.ci }));
    return node;
  }

  /** The marker on a score some of whose test examples a training corpus holds; the clean score in its title. */
  function contaminationMark(mark, format) {
    const share = describe(mark.share, { scale: 100, digits: 1, unit: "%" });
    const clean = describe(mark.clean, format);
    const title = `${mark.contaminated} of ${mark.checkable} examples (${share.text}) share a ${mark.ngram}-gram `
      + `with ${mark.corpus}` + (mark.clean ? `; clean-subset score ${clean.title}` : "; clean subset not scored");
    return el("span", { class: "contaminated", title, "data-clean": mark.clean ? mark.clean[0] : "", text: "⚠" });
  }

  function niceRange(low, high) {
    if (!(high > low)) return [low - 1, high + 1];
    const step = 10 ** Math.floor(Math.log10(high - low));
    return [Math.floor(low / step) * step, Math.ceil(high / step) * step];
  }

  /** Horizontal bars with CI whiskers. items: {label, href, value, low, high, mark}; values already scaled. */
  function barChart(items, opts) {
    const rowHeight = 22;
    const labelWidth = 210;
    const width = 760;
    const plot = width - labelWidth - 70;
    const values = items.flatMap((i) => [i.value, i.low, i.high]).filter((v) => v !== null && v !== undefined);
    const [min, max] = opts.fixed || niceRange(Math.min(0, ...values), Math.max(0, ...values));
    const x = (v) => labelWidth + ((v - min) / (max - min || 1)) * plot;
    const height = items.length * rowHeight + 30;
    const chart = svg("svg", {
      class: "chart bars", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": opts.label,
    }, svg("title", { text: opts.label }));
    for (const tick of [min, (min + max) / 2, max]) {
      chart.append(
        svg("line", { x1: x(tick), x2: x(tick), y1: 0, y2: height - 22, class: "grid" }),
        svg("text", { x: x(tick), y: height - 6, class: "tick", "text-anchor": "middle",
          text: tick.toFixed(Math.abs(max - min) < 5 ? 2 : 0) + (opts.unit || "") }),
      );
    }
    items.forEach((item, i) => {
      const y = i * rowHeight + 4;
      const label = item.label.length > 32 ? item.label.slice(0, 31) + "…" : item.label;
      const text = svg("text", { x: labelWidth - 8, y: y + 13, class: "label", "text-anchor": "end", text: label },
        svg("title", { text: item.label }));
      chart.append(item.href ? svg("a", { href: item.href }, text) : text);
      if (item.value === null || item.value === undefined) {
        chart.append(svg("text", { x: labelWidth + 4, y: y + 13, class: "missing", text: "missing" }));
        return;
      }
      const start = x(Math.max(min, Math.min(0, max)));
      const end = x(item.value);
      chart.append(svg("rect", {
        x: Math.min(start, end), y, width: Math.max(1, Math.abs(end - start)), height: rowHeight - 8,
        class: "bar" + (item.mark ? " marked" : ""),
      }, svg("title", { text: `${item.label}: ${item.title}` })));
      if (item.low !== null && item.low !== undefined && item.high !== null && item.high !== undefined) {
        const mid = y + (rowHeight - 8) / 2;
        chart.append(
          svg("line", { x1: x(item.low), x2: x(item.high), y1: mid, y2: mid, class: "whisker" }),
          svg("line", { x1: x(item.low), x2: x(item.low), y1: mid - 5, y2: mid + 5, class: "whisker" }),
          svg("line", { x1: x(item.high), x2: x(item.high), y1: mid - 5, y2: mid + 5, class: "whisker" }),
        );
      }
      chart.append(svg("text", { x: width - 62, y: y + 13, class: "value", text: item.text }));
    });
    return chart;
  }

  /** A radar over axes {label, value} with values in [0, 100]; missing axes are drawn as gaps and say so. */
  function radar(axes, label) {
    const size = 420;
    const centre = size / 2;
    const radius = 130;
    const point = (i, v) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / axes.length;
      return [centre + Math.cos(angle) * radius * v / 100, centre + Math.sin(angle) * radius * v / 100];
    };
    const chart = svg("svg", { class: "chart radar", viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": label },
      svg("title", { text: label }));
    for (const ring of [25, 50, 75, 100]) {
      chart.append(svg("polygon", { class: "grid", points: axes.map((_, i) => point(i, ring).join(",")).join(" ") }));
    }
    axes.forEach((axis, i) => {
      const [ex, ey] = point(i, 100);
      const [lx, ly] = point(i, 122);
      chart.append(svg("line", { x1: centre, y1: centre, x2: ex, y2: ey, class: "grid" }));
      const anchor = Math.abs(lx - centre) < 10 ? "middle" : lx > centre ? "start" : "end";
      const shown = axis.value === null ? `${axis.label} (missing)` : axis.label;
      chart.append(svg("text", { x: lx, y: ly + 4, "text-anchor": anchor,
        class: axis.value === null ? "label missing" : "label", text: shown }));
    });
    const present = axes.map((axis, i) => (axis.value === null ? null : point(i, axis.value)));
    if (present.every((p) => p !== null)) {
      chart.append(svg("polygon", { class: "area", points: present.map((p) => p.join(",")).join(" ") }));
    }
    present.forEach((p, i) => {
      if (p) {
        chart.append(svg("circle", { cx: p[0], cy: p[1], r: 3.5, class: "dot" },
          svg("title", { text: `${axes[i].label}: ${axes[i].text}` })));
      }
    });
    return chart;
  }

  /** A learning curve: one line per split over epochs, its 95% CI as a band. curve: {scorer, epochs, lines}. */
  function lineChart(curve, label) {
    const width = 560, height = 280, left = 46, right = 150, top = 14, bottom = 36;
    const plotW = width - left - right, plotH = height - top - bottom;
    const low = Math.min(...curve.epochs), high = Math.max(...curve.epochs);
    const x = (e) => left + (high > low ? ((e - low) / (high - low)) * plotW : plotW / 2);
    const y = (v) => top + plotH * (1 - v);
    const chart = svg("svg", { class: "chart curve", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
      svg("title", { text: label }));
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg("line", { x1: left, x2: left + plotW, y1: y(tick), y2: y(tick), class: "grid" }),
        svg("text", { x: left - 6, y: y(tick) + 4, class: "tick", "text-anchor": "end", text: `${tick * 100}%` }));
    }
    for (const epoch of curve.epochs) {
      chart.append(svg("text", { x: x(epoch), y: top + plotH + 16, class: "tick", "text-anchor": "middle", text: epoch }));
    }
    chart.append(svg("text", { x: left + plotW / 2, y: height - 4, class: "tick", "text-anchor": "middle",
      text: `epoch (${curve.scorer})` }));
    curve.lines.forEach((line, i) => {
      const colour = `hsl(${(i * 67) % 360} 65% 42%)`;
      const points = line.points.filter((p) => p[1] !== null);
      const banded = points.filter((p) => p[2] !== null && p[3] !== null);
      if (banded.length > 1) {
        const edge = [...banded.map((p) => `${x(p[0])},${y(p[3])}`), ...banded.reverse().map((p) => `${x(p[0])},${y(p[2])}`)];
        chart.append(svg("polygon", { points: edge.join(" "), class: "band", fill: colour, "fill-opacity": 0.15 }));
      }
      chart.append(svg("polyline", { points: points.map((p) => `${x(p[0])},${y(p[1])}`).join(" "), class: "line",
        fill: "none", stroke: colour, "stroke-width": 2, "data-split": line.split }));
      for (const p of points) {
        chart.append(svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: colour, "data-epoch": p[0], "data-value": p[1] },
          svg("title", { text: `${line.split}, epoch ${p[0]}: ${(p[1] * 100).toFixed(1)}%, n = ${p[4]}` })));
      }
      const legendY = top + 6 + 15 * i;
      chart.append(svg("line", { x1: width - right + 10, x2: width - right + 26, y1: legendY, y2: legendY,
        stroke: colour, "stroke-width": 2 }),
        svg("text", { x: width - right + 30, y: legendY + 4, class: "label", text: line.split }));
    });
    return chart;
  }

  function sizeLabel(params) {
    const [unit, scale] = params >= 1e12 ? ["T", 1e12] : params >= 1e9 ? ["B", 1e9] : ["M", 1e6];
    return `${+(params / scale).toPrecision(3)}${unit}`;
  }

  /** Score against model size (log scale): one line per family over its models, 95% CI whiskers.
   * series: [{family, points: [{label, href, params, value, low, high, title}]}]; values already scaled. */
  function sizeChart(series, opts) {
    const width = 760, height = 320, left = 52, right = 190, top = 14, bottom = 40;
    const plotW = width - left - right, plotH = height - top - bottom;
    const points = series.flatMap((s) => s.points);
    const logs = points.map((p) => Math.log10(p.params));
    let [lo, hi] = [Math.floor(Math.min(...logs)), Math.ceil(Math.max(...logs))];
    if (hi - lo < 1) [lo, hi] = [lo - 0.5, hi + 0.5];
    const values = points.flatMap((p) => [p.value, p.low, p.high]).filter((v) => v !== null && v !== undefined);
    const [min, max] = opts.fixed || niceRange(Math.min(...values), Math.max(...values));
    const x = (params) => left + ((Math.log10(params) - lo) / (hi - lo)) * plotW;
    const y = (v) => top + plotH * (1 - (v - min) / (max - min || 1));
    const chart = svg("svg", { class: "chart size", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": opts.label },
      svg("title", { text: opts.label }));
    for (const tick of [min, (min + max) / 2, max]) {
      chart.append(svg("line", { x1: left, x2: left + plotW, y1: y(tick), y2: y(tick), class: "grid" }),
        svg("text", { x: left - 6, y: y(tick) + 4, class: "tick", "text-anchor": "end",
          text: tick.toFixed(Math.abs(max - min) < 5 ? 2 : 0) + (opts.unit || "") }));
    }
    for (let power = Math.ceil(lo); power <= hi; power += 1) {
      chart.append(svg("line", { x1: x(10 ** power), x2: x(10 ** power), y1: top, y2: top + plotH, class: "grid" }),
        svg("text", { x: x(10 ** power), y: top + plotH + 16, class: "tick", "text-anchor": "middle",
          text: sizeLabel(10 ** power) }));
    }
    chart.append(svg("text", { x: left + plotW / 2, y: height - 4, class: "tick", "text-anchor": "middle",
      text: "parameters (log scale)" }));
    series.forEach((s, i) => {
      const colour = `hsl(${(i * 67) % 360} 65% 42%)`;
      const line = [...s.points].sort((a, b) => a.params - b.params || a.value - b.value);
      const group = svg("g", { class: "series", "data-family": s.family },
        svg("polyline", { points: line.map((p) => `${x(p.params)},${y(p.value)}`).join(" "), class: "line",
          fill: "none", stroke: colour, "stroke-width": 2 }));
      for (const p of line) {
        if (p.low !== null && p.low !== undefined && p.high !== null && p.high !== undefined) {
          group.append(svg("line", { x1: x(p.params), x2: x(p.params), y1: y(p.low), y2: y(p.high),
            class: "whisker", stroke: colour }));
        }
        const dot = svg("circle", { cx: x(p.params), cy: y(p.value), r: 3.5, fill: colour, class: "point",
          "data-model": p.label, "data-params": p.params, "data-value": p.value },
        svg("title", { text: `${p.label} (${sizeLabel(p.params)}): ${p.title}` }));
        group.append(p.href ? svg("a", { href: p.href }, dot) : dot);
      }
      const legendY = top + 6 + 15 * i;
      const name = s.family.length > 26 ? s.family.slice(0, 25) + "…" : s.family;
      group.append(svg("line", { x1: width - right + 10, x2: width - right + 26, y1: legendY, y2: legendY,
        stroke: colour, "stroke-width": 2 }),
      svg("text", { x: width - right + 30, y: legendY + 4, class: "label", text: name }, svg("title", { text: s.family })));
      chart.append(group);
    });
    return chart;
  }

  /** Tells tests and the benchmark that the page is drawn and answers input. */
  function markReady() {
    window.__leaderboardReadyMs = performance.now();
    document.body.setAttribute("data-ready", "1");
  }

  return {
    el, svg, readData, safeUrl, describe, scoreCell, contaminationMark, barChart, radar, lineChart, sizeChart, markReady,
    MISSING,
  };
})();
