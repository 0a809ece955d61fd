// pyhm Energy page: one meter's import and export over a local day, week, month or year, as
// mirrored bars (import above the line, export below), the totals, the previous period and the
// same period a year before, and the base load. Runs after app.js (its globals: LOCALE, TZ,
// num, t, api, css, dateFormat) and does nothing on any other page.
"use strict";

(() => {
  const PERIODS = ["day", "week", "month", "year"];
  // Calendar dates (YYYY-MM-DD) are formatted as such: at UTC noon, so no zone can shift them.
  const calendar = (opts) => new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC", ...opts });
  const D = {
    long: calendar({ weekday: "long", day: "numeric", month: "long", year: "numeric" }),
    short: calendar({ day: "numeric", month: "short", year: "numeric" }),
    month: calendar({ month: "long", year: "numeric" }),
    year: calendar({ year: "numeric" }),
  };
  // Bar labels, in the household's zone: hours, weekdays, days of the month, months.
  const L = {
    hour: dateFormat({ hour: "2-digit", minute: "2-digit" }),  // the page's clock: 24-hour or AM/PM
    hourZone: dateFormat({ hour: "2-digit", minute: "2-digit", timeZoneName: "short" }),
    hourShort: dateFormat({ hour: "numeric" }),  // an axis in AM/PM: "6 AM", not "06:00 AM"
    weekday: dateFormat({ weekday: "short", day: "numeric" }),
    weekdayOnly: dateFormat({ weekday: "short" }),
    dayOfMonth: dateFormat({ day: "numeric" }),
    dayMonth: dateFormat({ weekday: "short", day: "numeric", month: "short" }),
    month: dateFormat({ month: "short" }),
    monthLong: dateFormat({ month: "long", year: "numeric" }),
  };
  const utcNoon = (iso) => Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10)), 12);
  const dayBefore = (iso) => new Date(utcNoon(iso) - 86400000).toISOString().slice(0, 10);

  // Digits by size: an hour's 0.114 kWh needs three, a year's 3,270.4 kWh one.
  const digits = (v) => { const a = Math.abs(Number(v)); return a < 1 ? 3 : a < 100 ? 2 : a < 10000 ? 1 : 0; };
  // Values shown together get the same digits, from the largest of them.
  const digitsOf = (values) => digits(Math.max(0, ...values.filter((v) => v !== null && v !== undefined).map((v) => Math.abs(Number(v)))));
  const kwh = (v, d) => (v === null || v === undefined ? "–" : num(v, d === undefined ? digits(v) : d));
  const money = (v, currency) => {
    if (v === null || v === undefined) return "";
    try { return new Intl.NumberFormat(LOCALE, { style: "currency", currency }).format(Number(v)); } catch (e) { return `${num(v, 2)} ${currency}`; }
  };
  const percent = (v) => (v === null || v === undefined ? "" :
    new Intl.NumberFormat(LOCALE, { signDisplay: "exceptZero", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Number(v)) + " %");

  function title(period, start, end) {
    if (period === "day") return D.long.format(utcNoon(start));
    if (period === "week") return D.short.formatRange ? D.short.formatRange(utcNoon(start), utcNoon(dayBefore(end)))
      : `${D.short.format(utcNoon(start))} – ${D.short.format(utcNoon(dayBefore(end)))}`;
    if (period === "month") return D.month.format(utcNoon(start));
    return D.year.format(utcNoon(start));
  }

  // The periods to compare with, named as people say them (German has a word for each).
  const COMPARE = {
    previous: { day: () => t("Previous day"), week: () => t("Previous week"), month: () => t("Previous month"), year: () => t("Previous year") },
    last_year: { day: () => t("Same day last year"), week: () => t("Same week last year"), month: () => t("Same month last year"), year: () => t("Previous year") },
  };
  const compareTitle = (key, period) => COMPARE[key][period]();

  function energyPage(root) {
    const meter = root.dataset.meter;
    const box = document.getElementById("energy-chart");
    const buttons = [...root.querySelectorAll("[data-period]")].filter((b) => b.tagName === "BUTTON");
    const params = new URLSearchParams(location.search);
    let period = PERIODS.includes(params.get("period")) ? params.get("period") : root.dataset.period || "day";
    let date = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "") ? params.get("date") : root.dataset.date || "";
    let plot = null, data = null, loading = 0;
    const width = () => Math.max(240, box.clientWidth);

    async function load() {
      const ticket = ++loading;
      buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.period === period)));
      const query = `meter=${encodeURIComponent(meter)}&period=${period}` + (date ? `&date=${date}` : "");
      const r = await api(`/api/energy?${query}`);
      if (ticket !== loading) return;  // a newer step superseded this one
      data = r;
      history.replaceState(null, "", `${location.pathname}?period=${period}` + (date ? `&date=${r.start}` : ""));
      show(r);
    }

    function show(r) {
      document.getElementById("energy-title").textContent = title(r.period, r.start, r.end);
      document.getElementById("energy-back").disabled = false;
      document.getElementById("energy-fwd").disabled = !r.steps.next;
      document.getElementById("energy-now").disabled = r.running;
      const currency = r.prices ? r.prices.currency : "";
      // A period without a single reading (before the meter came) is no data, not 0 kWh.
      const empty = r.bars.every((b) => b.import === null && b.export === null);
      const td = digitsOf([r.totals.import, r.totals.export]);
      for (const k of ["import", "export", "net"]) root.querySelector(`[data-total="${k}"]`).textContent = empty ? "–" : kwh(r.totals[k], td);
      for (const k of ["import", "export"]) {
        const cost = r.costs && !empty ? r.costs[k] : null;
        root.querySelector(`[data-cost="${k}"]`).textContent = cost === null || cost === undefined ? "" :
          (k === "import" ? t("cost {money}", { money: money(cost, currency) }) : t("credit {money}", { money: money(cost, currency) }));
      }
      compare(document.getElementById("energy-previous"), "previous", r);
      const lastYear = document.getElementById("energy-last-year");
      lastYear.hidden = r.period === "year";  // a year's previous period is last year
      if (!lastYear.hidden) compare(lastYear, "last_year", r);
      baseLoad(r, currency);
      draw(r);
      const newest = r.newest ? Date.parse(r.newest) : NaN;
      document.getElementById("energy-info").textContent = empty ? t("No data for this period.") :
        r.running && !Number.isNaN(newest) ? t("Up to {time}; updated every minute.", { time: F.dateTime.format(newest) }) : "";
    }

    // The change is reckoned like with like: while this period runs, against the same part of that one.
    function compare(card, key, r) {
      const c = r[key];
      card.querySelector("[data-field=title]").textContent = compareTitle(key, r.period);
      const base = c.same_time || c;
      card.querySelector("[data-field=range]").textContent = title(r.period, c.start, c.end);
      const dl = card.querySelector("dl");
      dl.replaceChildren();
      const note = card.querySelector("[data-field=note]");
      if (c.import === null && c.export === null) { note.textContent = t("No data for this period."); return; }
      const d = digitsOf([base.import, base.export]);
      for (const [k, label] of [["import", t("Import")], ["export", t("Export")], ["net", t("Net")]]) {
        const dt = document.createElement("dt"); dt.textContent = label;
        const dd = document.createElement("dd");
        dd.append(`${kwh(base[k], d)} kWh`);
        const change = c.change[k];
        // Against what reads 0.00 kWh a per cent (+16,126.3 %) says nothing.
        const shownZero = Math.abs(Number(base[k])) < 0.5 / 10 ** d;
        if (change !== null && change !== undefined && !shownZero) {
          const s = document.createElement("span");
          s.className = "change";
          s.dataset.change = k;
          s.textContent = percent(change);
          s.title = t("this period against that one");
          dd.append(" ", s);
        }
        dl.append(dt, dd);
      }
      const whole = digitsOf([c.import, c.export]);  // the whole period's own digits: 231.4 kWh, not 231.381
      note.textContent = c.same_time ?
        t("Up to the same time ({time}). The whole period: {import} kWh import, {export} kWh export.",
          { time: F.dateTime.format(Date.parse(c.same_time.to)), import: kwh(c.import, whole), export: kwh(c.export, whole) }) : "";
    }

    function baseLoad(r, currency) {
      const b = r.base_load;
      const card = document.getElementById("energy-base");
      card.querySelector("[data-field=watts]").textContent = b.watts === null ? "–" : num(b.watts, 0);
      const year = card.querySelector("[data-field=year]");
      if (b.watts === null) { year.textContent = t("No complete night in this period."); return; }
      let text = tn("Median of {n} night.", "Median of {n} nights.", b.nights) + " " +
        t("About {kwh} kWh a year", { kwh: num(b.kwh_per_year, 0) });
      if (b.cost_per_year !== undefined) {
        text += t(", that is {money} a year at {price} per kWh.", { money: money(b.cost_per_year, currency),
                                                                   price: money(r.prices.price, currency) });
      } else {
        text += ". " + t("Set a price (energy: price in pyhm.cfg) to see what it costs.");
      }
      year.textContent = text;
    }

    // Mirrored bars: each sub-interval's import above zero, its export below, over exactly the period.
    function draw(r) {
      const from = Date.parse(r.from), to = Date.parse(r.to);
      const starts = r.bars.map((b) => b.t);
      const ends = starts.slice(1).concat([to]);
      const xs = starts.map((s, i) => (s + ends[i]) / 2000);  // a bar's middle, in seconds
      const imp = r.bars.map((b) => (b.import === null ? null : Number(b.import)));
      const exp = r.bars.map((b) => (b.export === null ? null : -Number(b.export)));
      const twelve = /h1[12]/.test(L.hour.resolvedOptions().hourCycle || "");
      const label = r.period === "day" ? (twelve ? L.hourShort : L.hour) : r.period === "week" ? L.weekday
        : r.period === "month" ? L.dayOfMonth : L.month;
      const full = r.period === "day" ? L.hour : r.period === "year" ? L.monthLong : L.dayMonth;
      const byX = new Map(xs.map((x, i) => [x, starts[i]]));
      // At least 10 Wh high: finer steps would print the same three decimals on every line.
      const max = Math.max(0.01, ...imp.map((v) => v || 0), ...exp.map((v) => -(v || 0)));
      const d = digits(max);
      const stroke = css("--muted"), grid = css("--grid");
      const room = { day: twelve ? 44 : 34, week: 58, month: 26, year: 40 }[r.period];
      const opts = {
        width: width(), height: 280,
        series: [
          { label: r.period === "day" ? t("Hour") : r.period === "year" ? t("Month") : t("Day"),
            value: (u, v) => (v === null || v === undefined ? "–" : full.format(byX.get(v) || v * 1000)) },
          { label: t("Import"), fill: css("--in"), stroke: css("--in"), value: (u, v) => (v === null ? "–" : `${num(v, d)} kWh`),
            paths: uPlot.paths.bars({ size: [0.8, 64], align: 0 }), points: { show: false } },
          { label: t("Export"), fill: css("--out"), stroke: css("--out"), value: (u, v) => (v === null ? "–" : `${num(-v, d)} kWh`),
            paths: uPlot.paths.bars({ size: [0.8, 64], align: 0 }), points: { show: false } },
        ],
        axes: [
          { stroke, grid: { show: false }, ticks: { stroke: grid }, size: 36,
            splits: (u) => {
              const space = r.period === "week" ? 28 : room;
              const k = Math.max(1, Math.ceil(xs.length * space / u.bbox.width * devicePixelRatio));
              return xs.filter((x, i) => i % k === 0);
            },
            values: (u, splits) => {
              // A week on a phone: the weekday alone, so that all seven fit.
              const f = r.period === "week" && u.bbox.width / devicePixelRatio < 7 * room ? L.weekdayOnly : label;
              const out = splits.map((x) => f.format(byX.get(x)));
              u.root.dataset.xticks = out.join("|");
              return out;
            } },
          { stroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, label: "kWh", size: 60,
            values: (u, splits) => {
              const out = splits.map((v) => num(Math.abs(v), stepDigits(splits)));
              u.root.dataset.yticks = out.join("|");
              return out;
            } },
        ],
        scales: { x: { time: false, range: () => [from / 1000, to / 1000] },
                  y: { range: () => { const top = max * 1.1; const bottom = exp.some((v) => v) ? -top : 0; return [bottom, top]; } } },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        hooks: { draw: [(u) => { box.dataset.xmin = String(Math.round(u.scales.x.min * 1000)); box.dataset.xmax = String(Math.round(u.scales.x.max * 1000)); }] },
      };
      if (plot) plot.destroy();
      plot = new uPlot(opts, [xs, imp, exp], box);
      box.dataset.bars = String(r.bars.filter((b) => b.import !== null || b.export !== null).length);
      box.dataset.slots = String(r.bars.length);
      box.dataset.start = r.start;
      box.dataset.period = r.period;
      table(r, full);
    }

    function table(r, full) {
      const details = document.getElementById("energy-data");
      if (!details.open) return;
      const tbl = document.getElementById("energy-table");
      tbl.replaceChildren();
      const head = document.createElement("tr");
      [r.period === "day" ? t("Hour") : r.period === "year" ? t("Month") : t("Day"), `${t("Import")} (kWh)`, `${t("Export")} (kWh)`].forEach((h, i) => {
        const th = document.createElement("th"); th.scope = "col"; th.textContent = h; th.className = i ? "num" : ""; head.append(th);
      });
      // A day of 23 or 25 hours: the hours with their zone (02:00 CEST, then 02:00 CET).
      const rowLabel = r.period === "day" && r.bars.length !== 24 ? L.hourZone : full;
      const d = digitsOf(r.bars.flatMap((b) => [b.import, b.export]));
      const thead = document.createElement("thead"); thead.append(head);
      const tbody = document.createElement("tbody");
      for (const b of r.bars) {
        const tr = document.createElement("tr");
        const th = document.createElement("th"); th.scope = "row"; th.textContent = rowLabel.format(b.t); tr.append(th);
        for (const v of [b.import, b.export]) { const td = document.createElement("td"); td.className = "num"; td.textContent = kwh(v, d); tr.append(td); }
        tbody.append(tr);
      }
      tbl.append(thead, tbody);
    }

    const failed = (e) => { document.getElementById("energy-info").textContent = t("Could not load the data: {error}", { error: e.message }); console.error(e.message); };
    const go = (next) => { date = next; load().catch(failed); };
    buttons.forEach((b) => b.addEventListener("click", () => { period = b.dataset.period; load().catch(failed); }));
    document.getElementById("energy-back").addEventListener("click", () => data && go(data.steps.previous));
    document.getElementById("energy-fwd").addEventListener("click", () => data && data.steps.next && go(data.steps.next));
    document.getElementById("energy-now").addEventListener("click", () => go(""));
    document.getElementById("energy-data").addEventListener("toggle", () => data && table(data, data.period === "day" ? L.hour : data.period === "year" ? L.monthLong : L.dayMonth));
    const picker = document.getElementById("energy-meter");
    if (picker) picker.addEventListener("change", () => { location.href = `/energy/${encodeURIComponent(picker.value)}${location.search}`; });
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => data && draw(data));
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => { if (data) draw(data); }, 100);
    });
    setInterval(() => { if (data && data.running) load().catch(() => {}); }, 60000);
    load().catch(failed);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("energy");
    if (root) energyPage(root);
  });
})();
