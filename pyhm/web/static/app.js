// pyhm web UI: live dashboard cards, charts (uPlot), consumption bars, login countdown.
// No inline script (CSP). The server renders raw numbers (data-num) and ISO times (<time>);
// everything a person reads is formatted here, in one locale (the browser's language) and in
// the household's time zone (<html data-tz>).
"use strict";

const ROOT = document.documentElement;
// The page's language is what the server chose from Accept-Language (pyhm.web.i18n): words,
// numbers and dates all follow it, never a second opinion from the browser.
const LOCALE = ROOT.lang || "en";
const WORDS = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");
// t(text, {name: value}): the text in the page's language, its {name} placeholders filled.
const fill = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? String(values[k]) : m));
const t = (text, values) => fill(typeof WORDS[text] === "string" ? WORDS[text] : text, values);
// tn(one, other, n): the plural form for n, with {n} filled (German and English agree: n === 1).
const tn = (one, other, n, values) => {
  const forms = Array.isArray(WORDS[one]) ? WORDS[one] : [one, other];
  return fill(n === 1 ? forms[0] : forms[1], { n, ...values });
};
const TZ = ROOT.dataset.tz || "UTC";
const STALE_S = Number(ROOT.dataset.stale || 15);

// --- formatting --------------------------------------------------------------------------------

const numberFormats = new Map();
const decimalsOf = (v) => { const m = String(v).match(/\.(\d+)/); return m ? m[1].length : 0; };
const num = (v, digits, scale = 1) => {
  if (v === null || v === undefined || v === "" || Number.isNaN(Number(v))) return "–";
  const d = digits === undefined ? decimalsOf(v) : digits;
  let f = numberFormats.get(d);
  if (!f) {
    f = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: d, maximumFractionDigits: d });
    numberFormats.set(d, f);
  }
  return f.format(Number(v) / scale);
};
const dateFormat = (opts) => {
  try { return new Intl.DateTimeFormat(LOCALE, { timeZone: TZ, ...opts }); } catch (e) { return new Intl.DateTimeFormat(LOCALE, opts); }
};
const F = {
  time: dateFormat({ hour: "2-digit", minute: "2-digit" }),
  seconds: dateFormat({ hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  dateTime: dateFormat({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }),
  day: dateFormat({ day: "numeric", month: "short" }),
  weekday: dateFormat({ weekday: "short", day: "numeric", month: "short" }),
  month: dateFormat({ month: "short", year: "numeric" }),
  year: dateFormat({ year: "numeric" }),
};
// Today only the time, else date and time: how old a value is, at a glance.
const today = (ms) => F.day.format(ms) === F.day.format(Date.now());
const since = (ms) => (today(ms) ? F.time : F.dateTime).format(ms);
const recent = (ms) => (today(ms) ? F.seconds : F.dateTime).format(ms);

function localize(root) {
  root.querySelectorAll("[data-num]").forEach((e) => {
    e.textContent = num(e.dataset.num, e.dataset.digits === undefined ? undefined : Number(e.dataset.digits), Number(e.dataset.scale || 1));
  });
  root.querySelectorAll("time[datetime]").forEach((e) => {
    const ms = Date.parse(e.getAttribute("datetime"));
    if (!Number.isNaN(ms)) e.textContent = e.dataset.format === "recent" ? recent(ms) : F.dateTime.format(ms);
  });
}

// A busy server (429, e.g. many Energy years at once) is asked again after the Retry-After it
// names (at most 5 s), twice; only then does the page say so, in its own language.
const api = async (path, tries = 3) => {
  const res = await fetch(path, { headers: { "X-Requested-With": "pyhm" }, credentials: "same-origin" });
  if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("login"); }
  if (res.status === 429 && tries > 1) {
    const wait = Math.min(5, Math.max(0.2, Number(res.headers.get("Retry-After")) || 1));
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    return api(path, tries - 1);
  }
  if (res.status === 429) throw new Error(t("pyhm is busy. Please try again in a moment."));
  if (!res.ok) throw new Error((await res.json()).error || res.statusText);
  return res.json();
};

// A value that stopped arriving must not look live: grey it and say since when.
function markStale(box, lastIso, ageS) {
  const stale = ageS === null || ageS === undefined || ageS > STALE_S;
  box.classList.toggle("stale", stale);
  const note = box.querySelector("[data-field=stale]");
  if (note) {
    const last = lastIso ? Date.parse(lastIso) : NaN;
    note.textContent = !stale ? "" : Number.isNaN(last) ? t("no data yet") : t("no data since {time}", { time: since(last) });
    note.hidden = !stale;
  }
}

const ageOf = (e) => (e.dataset.age === "" || e.dataset.age === undefined ? null : Number(e.dataset.age));

// The acquisition's head states (pyhm.web.api.HEAD_STATES) in the page's language.
const HEAD_STATES = {
  starting: t("starting"), reading: t("reading"), retrying: t("retrying"), stalled: t("stalled"),
  stopped: t("stopped"), failed: t("failed"), gone: t("gone"),
};

// --- dashboard -------------------------------------------------------------------------------

const DASH_SPAN_MS = 3_600_000;
const DASH_SVG = "http://www.w3.org/2000/svg";
// Which way the power flows: the sign of the meter's reading (positive: from the grid).
const dashFlow = (value) => {
  if (value === null || value === undefined || value === "" || Number.isNaN(Number(value))) return "none";
  return Number(value) > 0 ? "in" : Number(value) < 0 ? "out" : "zero";
};
const dashFlowWord = (way) => ({
  in: t("Importing from the grid"), out: t("Exporting to the grid"),
  zero: t("Nothing from or to the grid"), none: t("No power reading"),
})[way];
const dashSetFlow = (e, way) => { e.classList.remove("flow-in", "flow-out", "flow-zero", "flow-none"); e.classList.add(`flow-${way}`); };

// How long ago the newest telegram came, in the largest unit that fits.
function dashAgo(s) {
  if (s === null || s === undefined) return "";
  const n = Math.max(0, s);
  if (n < 2) return t("just now");
  if (n < 90) return t("{n} s ago", { n: num(Math.round(n), 0) });
  if (n < 5400) return t("{n} min ago", { n: num(Math.round(n / 60), 0) });
  if (n < 172_800) return t("{n} h ago", { n: num(Math.round(n / 3600), 0) });
  return tn("{n} day ago", "{n} days ago", Math.round(n / 86400));
}

// Today's energy against yesterday up to the same wall time (the server's `yesterday`).
function dashComparison(el, today, yesterday, until) {
  if (today === null || today === undefined || yesterday === null || yesterday === undefined) {
    el.textContent = t("nothing to compare from yesterday");
    el.removeAttribute("title");
    return;
  }
  const d = (Number(today) - Number(yesterday)) / 1000;
  const kwh = num(Math.abs(d), 2);
  el.textContent = kwh === num(0, 2) ? t("as much as at this time yesterday")
    : d > 0 ? "▲ " + t("{kwh} kWh more than at this time yesterday", { kwh })
      : "▼ " + t("{kwh} kWh less than at this time yesterday", { kwh });
  const time = until ? F.time.format(Date.parse(until)) : "";
  el.title = t("Yesterday until {time}: {kwh} kWh", { time, kwh: num(yesterday, 2, 1000) });
}

// The phases, each as a magnitude with its direction (a phase can feed in while another draws).
function dashPhases(ul, phases) {
  ul.replaceChildren(...phases.map((p) => {
    const li = document.createElement("li");
    const way = dashFlow(p.value);
    dashSetFlow(li, way);
    li.title = dashFlowWord(way);
    const label = document.createElement("span");
    label.className = "phase";
    label.textContent = p.phase;
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = { in: "↓", out: "↑" }[way] || "";
    const value = document.createElement("span");
    value.textContent = num(Math.abs(Number(p.value)), 0);
    li.append(label, " ", mark, value, " W");
    return li;
  }));
}

// The last hour's curve (minute means) as an SVG drawn here: above the zero line what came
// from the grid, below it what went out, each in its colour; a missing minute is a gap.
function dashSparkline(svg, hour, id, now) {
  const W = 600, H = 100, pad = 4, start = now - DASH_SPAN_MS;
  const pts = (hour ? hour.power : []).map((v, i) => [hour.from + (i + 0.5) * hour.step_ms, v])
    .filter(([ms, v]) => v !== null && ms >= start);
  const values = pts.map(([, v]) => v);
  const lo = Math.min(0, ...values), hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  const x = (ms) => ((ms - start) / DASH_SPAN_MS) * W;
  const y = (v) => pad + ((hi - v) / span) * (H - 2 * pad);
  const zero = y(0);
  const runs = [];
  for (const p of pts) {
    const run = runs[runs.length - 1];
    if (run && p[0] - run[run.length - 1][0] <= 150_000) run.push(p); else runs.push([p]);
  }
  const line = runs.map((r) => r.map(([ms, v], i) => `${i ? "L" : "M"}${x(ms).toFixed(1)},${y(v).toFixed(1)}`).join("")).join("");
  const area = runs.map((r) => `M${x(r[0][0]).toFixed(1)},${zero.toFixed(1)}`
    + r.map(([ms, v]) => `L${x(ms).toFixed(1)},${y(v).toFixed(1)}`).join("")
    + `L${x(r[r.length - 1][0]).toFixed(1)},${zero.toFixed(1)}Z`).join("");
  const el = (name, attrs) => {
    const e = document.createElementNS(DASH_SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const clip = (way, y0, h) => {
    const c = el("clipPath", { id: `spark-${id}-${way}` });
    c.append(el("rect", { x: 0, y: y0, width: W, height: Math.max(0, h) }));
    return c;
  };
  const parts = [el("defs", {}), el("line", { class: "zero", x1: 0, x2: W, y1: zero, y2: zero })];
  parts[0].append(clip("in", 0, zero), clip("out", zero, H - zero));
  for (const way of ["in", "out"]) {
    parts.push(el("path", { class: `area ${way}`, d: area, "clip-path": `url(#spark-${id}-${way})` }));
    parts.push(el("path", { class: `line ${way}`, d: line, "clip-path": `url(#spark-${id}-${way})` }));
  }
  svg.replaceChildren(...parts);
  svg.dataset.points = String(pts.length);
  const peak = (way) => (way === "in" ? Math.max(0, ...values) : -Math.min(0, ...values));
  return [peak("in") > 0 ? t("peak import {w} W", { w: num(peak("in"), 0) }) : "",
          peak("out") > 0 ? t("peak export {w} W", { w: num(peak("out"), 0) }) : ""].filter(Boolean).join(" · ");
}

function dashboardCard(card, m) {
  const field = (name) => card.querySelector(`[data-field="${name}"]`);
  const set = (name, text) => { const e = field(name); if (e) e.textContent = text; };
  const way = dashFlow(m.power && m.power.value);
  dashSetFlow(card, way);
  set("power", m.power ? num(Math.abs(Number(m.power.value)), 0) : "–");
  set("direction", dashFlowWord(way));
  dashPhases(field("phases"), m.phases);
  set("peaks", dashSparkline(field("spark"), m.hour, m.id, Date.now()));
  set("today-import", num(m.today.import, 2, 1000));
  set("today-export", num(m.today.export, 2, 1000));
  const y = m.yesterday || {};
  dashComparison(field("delta-import"), m.today.import, y.import, y.until);
  dashComparison(field("delta-export"), m.today.export, y.export, y.until);
  set("month-import", num(m.month.import, 1, 1000));
  set("month-export", num(m.month.export, 1, 1000));
  set("age", m.last_seen ? recent(Date.parse(m.last_seen)) : t("never"));
  set("ago", dashAgo(m.age_s));
  set("head", m.head ? `${m.head.serial} (${HEAD_STATES[m.head.state] || m.head.state})` : "");
  field("head").parentElement.hidden = !m.head;
  markStale(card, m.last_seen, m.age_s);
}

function dashboard(root) {
  root.querySelectorAll("[data-meter]").forEach((card) => markStale(card, card.dataset.last, ageOf(card)));
  const every = Number(root.dataset.refresh || 5) * 1000;
  const tick = async () => {
    try {
      const data = await api("/api/meters");
      document.getElementById("acq-banner").classList.toggle("show", !data.acquisition.running);
      const known = new Set([...document.querySelectorAll("[data-meter]")].map((e) => e.dataset.meter));
      if (data.meters.some((m) => !known.has(String(m.id)))) { location.reload(); return; }
      for (const m of data.meters) {
        const card = document.querySelector(`[data-meter="${m.id}"]`);
        if (card) dashboardCard(card, m);
      }
    } catch (e) { console.warn("refresh failed:", e.message); }
  };
  tick();
  setInterval(tick, every);
}

// --- charts ----------------------------------------------------------------------------------

const css = (name) => getComputedStyle(ROOT).getPropertyValue(name).trim();
const PALETTE_LIGHT = ["#0b5cd5", "#b35300", "#1a7f37", "#8250df", "#cf222e", "#0a7489", "#7d5a00", "#bf3989", "#57606a", "#6639ba"];
const PALETTE_DARK = ["#6cb6ff", "#f0883e", "#56d364", "#c297ff", "#ff7b72", "#39c5cf", "#e3b341", "#f778ba", "#adbac7", "#a5a3ff"];
const dark = matchMedia("(prefers-color-scheme: dark)");
const colour = (i) => (dark.matches ? PALETTE_DARK : PALETTE_LIGHT)[i % PALETTE_LIGHT.length];
// Import and export counters are drawn in the colours they have on every page; the palette's
// entries 1 and 2 are near those, so other series take the rest of it.
const FLOW_COLOUR = [[/^1-0:1\.8\./, "--in"], [/^1-0:2\.8\./, "--out"]];
const seriesColour = (key) => (key.startsWith("--") ? css(key) : colour(Number(key)));
const ISO_WALL = dateFormat({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const toLocalInput = (ms) => {
  // The household's wall time as ISO text without an offset (2026-12-01T14:00).
  const p = Object.fromEntries(ISO_WALL.formatToParts(ms).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
};

// --- typed times -------------------------------------------------------------------------------
// The custom range is typed as text in the page's order and format ("01.12.2026 14:00" in German,
// "12/01/2026 02:00 PM" in American English): <input type=datetime-local> would follow Chromium's
// own UI language instead of the page's. Times are wall times of the household's zone.

const WALL = dateFormat({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
const TYPED = (() => {
  const parts = WALL.formatToParts(Date.UTC(2026, 11, 1, 14, 0));
  const order = parts.map((x) => x.type).filter((k) => k === "day" || k === "month" || k === "year");
  const at = (k) => parts.findIndex((x) => x.type === k);
  const between = (a, b) => parts.slice(at(a) + 1, at(b)).map((x) => x.value).join("");
  const period = (h) => {
    const f = new Intl.DateTimeFormat(LOCALE, { hour: "numeric", timeZone: "UTC", hour12: true });
    return (f.formatToParts(Date.UTC(2026, 0, 1, h)).find((x) => x.type === "dayPeriod") || { value: "" }).value;
  };
  const hour12 = parts.some((x) => x.type === "dayPeriod");
  const letters = { day: t("DD"), month: t("MM"), year: t("YYYY") };
  const am = hour12 ? period(2) : "", pm = hour12 ? period(14) : "";
  return {
    order, hour12, am, pm,
    sep: between(order[0], order[1]) || "/",
    // no break inside the format where a message quotes it
    format: order.map((k) => letters[k]).join(between(order[0], order[1]) || "/") + "\u00a0" + t("hh") + ":" + t("mm")
      + (hour12 ? `\u00a0${am}/${pm}` : ""),
  };
})();
const typedTime = (ms) => {
  const p = Object.fromEntries(WALL.formatToParts(ms).map((x) => [x.type, x.value]));
  return TYPED.order.map((k) => p[k]).join(TYPED.sep) + ` ${p.hour}:${p.minute}` + (p.dayPeriod ? ` ${p.dayPeriod}` : "");
};
// The instant of a wall time in the household's zone, as the server's localtime.to_ms takes it:
// with the zone's offset of the day before or after that gives this wall time, the earlier if
// both do (clocks going back, also by half an hour), the offset before if none (a skipped time
// or day); NaN past the year 9999.
const wallToMs = (y, mo, d, h, mi) => {
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const offset = (ms) => (Number.isFinite(ms) ? Date.parse(toLocalInput(ms) + "Z") - ms : NaN);
  const before = offset(wall - 86400000), after = offset(wall + 86400000);
  const fits = [wall - before, wall - after].filter((ms) => offset(ms) === wall - ms);
  return fits.length ? Math.min(...fits) : wall - before;
};
// Text typed in the page's order (or ISO, 2026-12-01 14:00) → milliseconds, or null. The time
// may be left out (midnight); digits alone in the page's order work too (a phone's number pad).
function parseTyped(text) {
  const s = text.trim();
  let y, mo, d, h = 0, mi = 0;
  const iso = s.match(/^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{2}))?$/);
  if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    if (iso[4] !== undefined) { h = Number(iso[4]); mi = Number(iso[5]); }
  } else {
    let nums = s.match(/\d+/g) || [];
    if (nums.length === 1 && (nums[0].length === 8 || nums[0].length === 12)) {
      const widths = { day: 2, month: 2, year: 4 };
      let at = 0;
      const split = TYPED.order.map((k) => { const part = nums[0].slice(at, at + widths[k]); at += widths[k]; return part; });
      nums = split.concat(nums[0].length === 12 ? [nums[0].slice(8, 10), nums[0].slice(10)] : []);
    }
    if (nums.length !== 3 && nums.length !== 5) return null;
    const v = Object.fromEntries(TYPED.order.map((k, i) => [k, Number(nums[i])]));
    [y, mo, d] = [v.year + (nums[TYPED.order.indexOf("year")].length <= 2 ? 2000 : 0), v.month, v.day];
    if (nums.length === 5) { h = Number(nums[3]); mi = Number(nums[4]); }
    const lower = s.toLowerCase();
    const isPm = TYPED.hour12 && TYPED.pm && lower.includes(TYPED.pm.toLowerCase());
    const isAm = TYPED.hour12 && TYPED.am && lower.includes(TYPED.am.toLowerCase());
    if (isPm || isAm) {
      if (h < 1 || h > 12) return null;
      h = (h % 12) + (isPm ? 12 : 0);
    }
  }
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (!(y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= days && h >= 0 && h <= 23 && mi >= 0 && mi <= 59)) return null;
  const ms = wallToMs(y, mo, d, h, mi);
  return Number.isFinite(ms) ? ms : null;
}

// Tick labels in the page's locale and zone; the labels drawn last are kept for tests.
function timeValues(u, splits, axisIdx, space, incr) {
  const f = incr >= 360 * 86400 ? F.year : incr >= 28 * 86400 ? F.month : incr >= 86400 ? F.day : F.time;
  let day = null;
  const labels = splits.map((s) => {
    const ms = s * 1000;
    let text = f.format(ms);
    if (f === F.time) {
      const d = F.day.format(ms);
      if (d !== day) { text += "\n" + d; day = d; }
    }
    return text;
  });
  u.root.dataset.xticks = labels.join("|");
  return labels;
}
// As many decimals as the axis step has (a step of 2.5 labels 7.5, not 8), at most three.
const stepDigits = (splits) => {
  const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1;
  return Math.min(3, (String(Number(step.toFixed(6))).split(".")[1] || "").length);
};
const numberValues = (u, splits, axisIdx) => {
  const out = splits.map((v) => num(v, stepDigits(splits)));
  u.root.dataset[`yticks${axisIdx}`] = out.join("|");  // the labels drawn last, for tests
  return out;
};
const axisStyle = () => ({ stroke: css("--muted"), grid: { stroke: css("--grid"), width: 1 }, ticks: { stroke: css("--grid") } });

// One series' points as [seconds, value] with a null where no telegram came for more than a
// few intervals: a gap is drawn as a gap, never as a straight line across it.
function withGaps(points) {
  const ts = points.map((p) => p.t);
  const steps = ts.slice(1).map((t, i) => t - ts[i]).sort((a, b) => a - b);
  const usual = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
  const out = [];
  let gaps = 0;
  points.forEach((p, i) => {
    if (i && usual > 0 && p.t - points[i - 1].t > 3.5 * usual) { out.push([(points[i - 1].t + usual) / 1000, null]); gaps += 1; }
    out.push([p.t / 1000, Number(p.value)]);
  });
  return { rows: out, gaps };
}

function chartTable(table, head, xs, columns, xFormat) {
  table.replaceChildren();
  const tr = document.createElement("tr");
  for (const h of head) { const th = document.createElement("th"); th.textContent = h; th.scope = "col"; tr.append(th); }
  const thead = document.createElement("thead"); thead.append(tr);
  const tbody = document.createElement("tbody");
  xs.forEach((x, i) => {
    if (columns.every((c) => c[i] === null || c[i] === undefined)) return;
    const row = document.createElement("tr");
    const th = document.createElement("th"); th.scope = "row"; th.textContent = xFormat(x * 1000); row.append(th);
    for (const c of columns) { const td = document.createElement("td"); td.className = "num"; td.textContent = num(c[i], c.digits); row.append(td); }
    tbody.append(row);
  });
  table.append(thead, tbody);
}

// What a chart shows, once drawn: for the tests and for anyone inspecting the page.
const drawn = (box) => (u) => {
  box.dataset.grid = css("--grid");
  box.dataset.xmin = String(Math.round(u.scales.x.min * 1000));
  box.dataset.xmax = String(Math.round(u.scales.x.max * 1000));
};

function meterPage(root) {
  const meter = root.dataset.meter;
  const chartBox = document.getElementById("chart");
  const barsBox = document.getElementById("bars");
  const presets = [...document.querySelectorAll("[data-range]")];
  const boxes = [...document.querySelectorAll("#series input[type=checkbox]")];
  // A fixed colour per series.
  const others = [0, 3, 4, 5, 6, 7, 8, 9];
  let nextOther = 0;
  boxes.forEach((b) => {
    const flow = FLOW_COLOUR.find(([re]) => re.test(b.value));
    b.dataset.colour = flow ? flow[1] : String(others[nextOther++ % others.length]);
  });
  const paintSwatches = () => boxes.forEach((b) => { const s = b.parentElement.querySelector(".swatch"); if (s) s.style.background = seriesColour(b.dataset.colour); });
  let range = { from: 0, to: 0 };
  let preset = 86400;
  let plot = null, bars = null, drawing = 0;
  let tableData = null, barsTable = null;
  const fromInput = document.getElementById("from"), toInput = document.getElementById("to");
  const errorBox = document.getElementById("range-error");
  [fromInput, toInput].forEach((e) => { e.placeholder = TYPED.format; e.title = TYPED.format; });
  // An inline error on the inputs that cannot be used (a screen reader hears it: role=alert).
  const rangeError = (bad, message) => {
    [fromInput, toInput].forEach((e) => e.setAttribute("aria-invalid", String(bad.includes(e))));
    errorBox.textContent = message;
    errorBox.hidden = !message;
  };
  // The drawn range in the inputs (zoom and ◀ ▶ too), except in one a person is typing into.
  const showRange = (from, to) => {
    rangeError([], "");
    if (document.activeElement !== fromInput) fromInput.value = typedTime(from);
    if (document.activeElement !== toInput) toInput.value = typedTime(to);
  };

  const width = (box) => Math.max(240, box.clientWidth);
  const setPreset = (seconds) => {
    preset = seconds;
    presets.forEach((b) => b.setAttribute("aria-pressed", String(Number(b.dataset.range) === seconds)));
  };
  const toNow = () => { const to = Date.now(); range = { from: to - preset * 1000, to }; };

  async function drawChart() {
    const ticket = ++drawing;
    const from = Math.round(range.from), to = Math.round(range.to);
    range = { from, to };
    showRange(from, to);
    const ticked = boxes.filter((b) => b.checked);
    const n = Math.min(2000, width(chartBox));
    const results = await Promise.all(ticked.map((b) =>
      api(`/api/series?meter=${meter}&obis=${encodeURIComponent(b.value)}&from=${from}&to=${to}&points=${n}`)));
    if (ticket !== drawing) return;  // a newer request superseded this one
    let gaps = 0;
    const rows = results.map((r) => { const g = withGaps(r.points); gaps += g.gaps; return g.rows; });
    const times = [...new Set(rows.flatMap((rs) => rs.map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const data = [times];
    const series = [{ label: t("Time"), value: (u, v) => (v === null || v === undefined ? "–" : F.dateTime.format(v * 1000)) }];
    const units = [...new Set(results.map((r) => r.unit || ""))];
    results.forEach((r, i) => {
      const col = new Array(times.length).fill(undefined);  // undefined: not sampled here; null: a gap
      for (const [t, v] of rows[i]) col[index.get(t)] = v;
      col.digits = Math.max(0, ...r.points.slice(-20).map((p) => decimalsOf(p.value)));
      // A mean (minutes, hours, days) has more decimals than the meter measures: show the meter's.
      const latest = root.querySelector(`[data-latest="${CSS.escape(ticked[i].value)}"]`);
      if (r.resolution !== "raw" && latest) col.digits = latest.dataset.digits !== undefined ? Number(latest.dataset.digits) : decimalsOf(latest.dataset.num);
      data.push(col);
      series.push({
        label: `${ticked[i].parentElement.querySelector(".name").textContent.trim()} (${r.unit || ""})`, stroke: seriesColour(ticked[i].dataset.colour), width: 1.5, scale: r.unit || "", spanGaps: false,
        value: (u, v) => num(v, col.digits),
        paths: r.kind === "counter" ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: r.points.length <= 60, size: 6 },  // a few points alone would draw no line
      });
    });
    const axes = [{ ...axisStyle(), values: timeValues, space: 64, size: 52 }];
    units.forEach((u, i) => axes.push({ ...axisStyle(), scale: u, label: u, side: i % 2 ? 1 : 3, values: numberValues, size: 64,
                                        grid: { show: i === 0, stroke: css("--grid"), width: 1 } }));
    const total = results.reduce((k, r) => k + r.points.length, 0);
    chartBox.dataset.points = String(total);
    chartBox.dataset.gaps = String(gaps);
    const resolutions = [...new Set(results.map((r) => r.resolution))];
    chartBox.dataset.resolution = resolutions.join(",");
    const resolutionWords = { raw: t("every telegram"), minute: t("minutes"), hour: t("hours"), day: t("days") };
    document.getElementById("chart-info").textContent = results.length ?
      tn("{n} point, resolution: {resolution}. Drag across the chart to zoom.", "{n} points, resolution: {resolution}. Drag across the chart to zoom.",
         total, { n: num(total, 0), resolution: resolutions.map((r) => resolutionWords[r] || r).join(", ") }) :
      t("Tick a series above.");
    const opts = {
      width: width(chartBox), height: 320, series, axes,
      // Room on the right for half of the last time label ("Dez. 2026"), unless a unit's axis is there.
      padding: [null, (u, side, sides) => (sides[1] ? 0 : 40), null, null],
      scales: { x: { time: true, range: () => [from / 1000, to / 1000] }, ...Object.fromEntries(units.map((u) => [u, { auto: true }])) },
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      hooks: { setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = Math.round(u.posToVal(u.select.left, "x") * 1000);
        const b = Math.round(u.posToVal(u.select.left + u.select.width, "x") * 1000);
        u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        if (b - a < 2000) return;
        setPreset(null);
        range = { from: a, to: b };
        drawChart().catch(failed);
      }] },
    };
    if (plot) plot.destroy();
    opts.hooks.draw = [drawn(chartBox)];
    plot = new uPlot(opts, data, chartBox);
    tableData = { head: series.map((s) => s.label), xs: times, cols: data.slice(1) };
    fillChartTable();
    downloads(ticked, from, to);
  }

  function fillChartTable() {
    const details = document.getElementById("chart-data");
    if (details.open && tableData) chartTable(document.getElementById("chart-table"), tableData.head, tableData.xs, tableData.cols, F.dateTime.format);
  }

  function downloads(ticked, from, to) {
    const box = document.getElementById("downloads");
    box.replaceChildren();
    box.hidden = ticked.length === 0;
    if (!ticked.length) return;
    box.append(t("Download:") + " ");
    const day = 86400000;  // export rows: raw only up to a day (86,400 at 1/s), else about 20,000 at most
    const span = to - from;
    const resolution = span <= day ? "raw" : span <= 14 * day ? "minute" : span <= 731 * day ? "hour" : "day";
    ticked.forEach((b, i) => {
      if (i) box.append(" · ");
      const name = b.parentElement.querySelector(".name").textContent.trim();
      box.append(name + " ");
      for (const f of ["csv", "json"]) {
        const a = document.createElement("a");
        a.href = `/api/export?meter=${meter}&obis=${encodeURIComponent(b.value)}&from=${from}&to=${to}&format=${f}&resolution=${resolution}`;
        a.textContent = f.toUpperCase();
        a.setAttribute("aria-label", t("{series} as {format}", { series: name, format: f.toUpperCase() }));
        box.append(a, f === "csv" ? " " : "");
      }
    });
  }

  async function drawBars() {
    const counter = document.getElementById("counter").value;
    if (!counter) return;
    const period = document.getElementById("period").value;
    const spans = { day: 31, week: 7 * 26, month: 366, year: 366 * 10 };
    const to = Date.now(), from = to - spans[period] * 86400000;
    const r = await api(`/api/consumption?meter=${meter}&obis=${encodeURIComponent(counter)}&period=${period}&from=${from}&to=${to}`);
    const xs = r.values.map((v) => v.t / 1000);
    const ys = r.values.map((v) => Number(v.value) / 1000);
    ys.digits = 2;
    barsBox.dataset.bars = String(xs.length);
    const label = { day: F.weekday, week: F.day, month: F.month, year: F.year }[period];
    const flow = FLOW_COLOUR.find(([re]) => re.test(counter));
    const barColour = css(flow ? flow[1] : "--accent");  // import bars in the import colour, as on the Energy page
    const perPeriod = { day: t("kWh per day"), week: t("kWh per week"), month: t("kWh per month"), year: t("kWh per year") }[period];
    const opts = {
      width: width(barsBox), height: 240,
      series: [{ label: t("Period"), value: (u, v) => (v === null || v === undefined ? "–" : label.format(v * 1000)) },
               { label: perPeriod, fill: barColour, stroke: barColour, value: (u, v) => num(v, 2),
                 paths: uPlot.paths.bars({ size: [0.7, 60], align: 1 }), points: { show: false } }],
      axes: [{ ...axisStyle(), values: timeValues, space: 80, size: 52, grid: { show: false } }, { ...axisStyle(), label: "kWh", values: numberValues, size: 64 }],
      scales: { x: { time: true, range: () => [from / 1000, to / 1000] }, y: { range: (u, min, max) => [0, Math.max(max, 0.01) * 1.1] } },  // finer steps print equal labels
    };
    if (bars) bars.destroy();
    opts.hooks = { draw: [drawn(barsBox)] };
    bars = new uPlot(opts, [xs, ys], barsBox);
    barsTable = { xs, ys, label };
    fillBarsTable();
  }

  function fillBarsTable() {
    const details = document.getElementById("bars-data");
    if (details.open && barsTable) chartTable(document.getElementById("bars-table"), [t("Period"), "kWh"], barsTable.xs, [barsTable.ys], barsTable.label.format);
  }

  const failed = (e) => {
    document.getElementById("chart-info").textContent = t("Could not load the chart: {error}", { error: e.message });
    console.error(e.message);
  };
  const redraw = () => { drawChart().catch(failed); drawBars().catch(failed); };

  presets.forEach((b) => b.addEventListener("click", () => { setPreset(Number(b.dataset.range)); toNow(); drawChart().catch(failed); }));
  document.getElementById("custom").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = parseTyped(fromInput.value), to = parseTyped(toInput.value);
    if (from === null || to === null) {
      rangeError([from === null && fromInput, to === null && toInput].filter(Boolean),
                 t("Enter a time as {format}, for example {example}.", { format: TYPED.format, example: typedTime(Date.now()) }));
    } else if (from >= to) {
      rangeError([fromInput, toInput], t("The start of the range must be before its end."));
    } else {
      setPreset(null);
      range = { from, to };
      drawChart().catch(failed);
    }
  });
  const step = (dir) => {
    const span = range.to - range.from;
    const to = Math.min(Date.now(), range.to + dir * Math.round(span / 2));
    setPreset(null);
    range = { from: to - span, to };
    drawChart().catch(failed);
  };
  document.getElementById("back").addEventListener("click", () => step(-1));
  document.getElementById("fwd").addEventListener("click", () => step(1));
  document.getElementById("series").addEventListener("change", () => drawChart().catch(failed));
  document.getElementById("period").addEventListener("change", () => drawBars().catch(failed));
  document.getElementById("counter").addEventListener("change", () => drawBars().catch(failed));
  document.getElementById("chart-data").addEventListener("toggle", fillChartTable);
  document.getElementById("bars-data").addEventListener("toggle", fillBarsTable);
  dark.addEventListener("change", () => { paintSwatches(); redraw(); });
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (plot) plot.setSize({ width: width(chartBox), height: 320 });
      if (bars) bars.setSize({ width: width(barsBox), height: 240 });
    }, 100);
  });
  paintSwatches();
  setPreset(preset);
  toNow();
  redraw();
  setInterval(() => { if (preset) { toNow(); drawChart().catch(() => {}); } }, 30000);
  // The latest values and whether they are still arriving.
  const status = root;
  markStale(status, root.dataset.last, ageOf(root));
  setInterval(async () => {
    try {
      const m = await api(`/api/meters/${meter}`);
      markStale(status, m.last_seen, m.age_s);
      for (const s of m.series) {
        const cell = root.querySelector(`[data-latest="${CSS.escape(s.obis)}"]`);
        if (!cell || !s.latest) continue;
        // JSON drops a reading's trailing zeros (230.0 arrives as 230): keep the decimals the page first showed.
        if (cell.dataset.digits === undefined) cell.dataset.digits = String(decimalsOf(cell.dataset.num));
        cell.dataset.num = s.latest.value;
        cell.textContent = num(s.latest.value, Math.max(Number(cell.dataset.digits), decimalsOf(s.latest.value)));
      }
    } catch (e) { console.warn("refresh failed:", e.message); }
  }, 1000);  // a telegram shows within two seconds of its arrival
}

// --- login -----------------------------------------------------------------------------------

function countdown(el) {
  const until = Date.now() + Number(el.dataset.seconds) * 1000;
  const button = document.querySelector("form button[type=submit]");
  if (button) button.disabled = true;
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    el.textContent = num(left, 0);
    if (left > 0) { setTimeout(tick, 250); return; }
    document.getElementById("blocked").textContent = t("You can try again now.");
    if (button) button.disabled = false;
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  localize(document);
  const d = document.getElementById("dashboard");
  if (d) dashboard(d);
  const m = document.getElementById("meter");
  if (m) meterPage(m);
  const c = document.getElementById("countdown");
  if (c) countdown(c);
});
