// pyhm web UI: live dashboard cards, charts (uPlot), consumption bars. No inline script: CSP.
"use strict";

const api = async (path) => {
  const res = await fetch(path, { headers: { "X-Requested-With": "pyhm" }, credentials: "same-origin" });
  if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("login"); }
  if (!res.ok) throw new Error((await res.json()).error || res.statusText);
  return res.json();
};

const fmt = (v, digits = 0, scale = 1) =>
  v === null || v === undefined ? "–" :
  (Number(v) / scale).toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });

// --- dashboard -------------------------------------------------------------------------------

function dashboard(root) {
  const every = Number(root.dataset.refresh || 5) * 1000;
  const tick = async () => {
    try {
      const data = await api("/api/meters");
      document.getElementById("acq-banner").classList.toggle("show", !data.acquisition.running);
      const known = new Set([...document.querySelectorAll("[data-meter]")].map((e) => e.dataset.meter));
      if (data.meters.some((m) => !known.has(String(m.id)))) { location.reload(); return; }
      for (const m of data.meters) {
        const card = document.querySelector(`[data-meter="${m.id}"]`);
        const set = (field, text) => { const e = card.querySelector(`[data-field="${field}"]`); if (e) e.textContent = text; };
        set("power", fmt(m.power && m.power.value));
        set("direction", m.power ? (m.power.value < 0 ? "export" : "import") : "");
        set("phases", m.phases.map((p) => fmt(p.value) + " W").join(" · "));
        set("today-import", fmt(m.today.import, 2, 1000));
        set("today-export", fmt(m.today.export, 2, 1000));
        set("month-import", fmt(m.month.import, 1, 1000));
        set("month-export", fmt(m.month.export, 1, 1000));
        set("age", m.age_s === null ? "never" : fmt(m.age_s) + " s ago");
        set("head", m.head ? `${m.head.serial} (${m.head.state})` : "–");
      }
    } catch (e) { console.warn("refresh failed:", e.message); }
  };
  setInterval(tick, every);
}

// --- meter page ------------------------------------------------------------------------------

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const palette = ["#1f6feb", "#d4690b", "#1a7f37", "#8250df", "#cf222e", "#0a7ea4", "#9a6700", "#bf3989"];
const toLocalInput = (ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 16); };

function meterPage(root) {
  const meter = root.dataset.meter;
  const chartBox = document.getElementById("chart");
  const barsBox = document.getElementById("bars");
  let range = { to: Date.now(), span: 86400 * 1000 };
  let plot = null, bars = null;

  const checked = () => [...document.querySelectorAll("#series input:checked")];
  const width = (box) => Math.max(300, box.clientWidth);

  async function drawChart() {
    const from = range.to - range.span, to = range.to;
    document.getElementById("from").value = toLocalInput(from);
    document.getElementById("to").value = toLocalInput(to);
    const boxes = checked();
    const results = await Promise.all(boxes.map((b) =>
      api(`/api/series?meter=${meter}&obis=${encodeURIComponent(b.value)}&from=${from}&to=${to}&points=${Math.min(2000, width(chartBox))}`)));
    const times = [...new Set(results.flatMap((r) => r.points.map((p) => p.t / 1000)))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const data = [times];
    const series = [{}];
    const units = [...new Set(results.map((r) => r.unit || ""))];
    results.forEach((r, i) => {
      const col = new Array(times.length).fill(null);
      for (const p of r.points) col[index.get(p.t / 1000)] = Number(p.value);
      data.push(col);
      series.push({
        label: `${r.name || r.obis} (${r.unit || ""})`, stroke: palette[i % palette.length], width: 1.5,
        scale: r.unit || "", spanGaps: r.kind === "counter",
        paths: r.kind === "counter" ? uPlot.paths.stepped({ align: 1 }) : undefined,
      });
    });
    const axes = [{ stroke: css("--muted"), grid: { stroke: css("--line") } }];
    units.forEach((u, i) => axes.push({ scale: u, label: u, side: i % 2 ? 1 : 3, stroke: css("--muted"), grid: { show: i === 0, stroke: css("--line") } }));
    const total = results.reduce((n, r) => n + r.points.length, 0);
    chartBox.dataset.points = String(total);
    document.getElementById("chart-info").textContent = results.length ?
      `${total} points, resolution: ${[...new Set(results.map((r) => r.resolution))].join(", ")}. Drag to zoom, double-click to reset.` :
      "Pick a series above.";
    const opts = {
      width: width(chartBox), height: 320, series, axes,
      scales: Object.fromEntries(units.map((u) => [u, { auto: true }])),
      cursor: { drag: { x: true, y: false } },
      hooks: { setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = u.posToVal(u.select.left, "x") * 1000, b = u.posToVal(u.select.left + u.select.width, "x") * 1000;
        range = { to: b, span: b - a }; drawChart();
      }] },
    };
    if (plot) plot.destroy();
    plot = new uPlot(opts, data, chartBox);
    const day = 86400000;  // export rows: raw only up to a day (86,400 at 1/s), else about 20,000 at most
    const resolution = range.span <= day ? "raw" : range.span <= 14 * day ? "minute" : range.span <= 731 * day ? "hour" : "day";
    const link = (fmtName) => { const b = boxes[0]; return b ?
      `/api/export?meter=${meter}&obis=${encodeURIComponent(b.value)}&from=${from}&to=${to}&format=${fmtName}&resolution=${resolution}` : "#"; };
    document.getElementById("csv").href = link("csv");
    document.getElementById("json").href = link("json");
  }

  async function drawBars() {
    const counter = document.getElementById("counter").value;
    if (!counter) return;
    const period = document.getElementById("period").value;
    const spans = { day: 31, week: 7 * 26, month: 366, year: 366 * 10 };
    const to = Date.now(), from = to - spans[period] * 86400000;
    const r = await api(`/api/consumption?meter=${meter}&obis=${encodeURIComponent(counter)}&period=${period}&from=${from}&to=${to}`);
    const xs = r.values.map((v) => new Date(v.start + "T00:00:00").getTime() / 1000);
    const ys = r.values.map((v) => Number(v.value) / 1000);
    barsBox.dataset.bars = String(xs.length);
    const opts = {
      width: width(barsBox), height: 240,
      series: [{}, { label: `kWh ${period === "day" ? "per day" : "per " + period}`, fill: css("--accent"), stroke: css("--accent"),
                     paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } }],
      axes: [{ stroke: css("--muted"), grid: { show: false } }, { stroke: css("--muted"), grid: { stroke: css("--line") }, label: "kWh" }],
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, 0.001) * 1.1] } },
    };
    if (bars) bars.destroy();
    bars = new uPlot(opts, [xs, ys], barsBox);
  }

  document.querySelectorAll("[data-range]").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("[data-range]").forEach((o) => o.classList.toggle("on", o === b));
    range = { to: Date.now(), span: Number(b.dataset.range) * 1000 };
    drawChart();
  }));
  document.getElementById("apply").addEventListener("click", () => {
    const a = new Date(document.getElementById("from").value).getTime(), b = new Date(document.getElementById("to").value).getTime();
    if (a < b) { range = { to: b, span: b - a }; drawChart(); }
  });
  document.getElementById("back").addEventListener("click", () => { range.to -= range.span / 2; drawChart(); });
  document.getElementById("fwd").addEventListener("click", () => { range.to = Math.min(Date.now(), range.to + range.span / 2); drawChart(); });
  chartBox.addEventListener("dblclick", () => { range = { to: Date.now(), span: 86400000 }; drawChart(); });
  document.getElementById("series").addEventListener("change", drawChart);
  document.getElementById("period").addEventListener("change", drawBars);
  document.getElementById("counter").addEventListener("change", drawBars);
  window.addEventListener("resize", () => { if (plot) plot.setSize({ width: width(chartBox), height: 320 }); });
  drawChart().catch((e) => console.warn(e.message));
  drawBars().catch((e) => console.warn(e.message));
  setInterval(() => { if (Date.now() - range.to < 60000) { range.to = Date.now(); drawChart().catch(() => {}); } }, 30000);
}

document.addEventListener("DOMContentLoaded", () => {
  const d = document.getElementById("dashboard");
  if (d) dashboard(d);
  const m = document.getElementById("meter");
  if (m) meterPage(m);
});
