// The live leaky-vs-fixed view: polls /leaks/data (leaklab.live.LiveView) and draws it.
// No build step and no network: plain JavaScript and uPlot, served by Locust.
"use strict";

const REFRESH_MS = 1500;
const COLOURS = { leaky: "#f2495c", fixed: "#73bf69" };
const FALLBACK = ["#5794f2", "#ff9830", "#b877d9"];
const plots = {};
const number = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });
const leaklab = (window.leaklab = { latest: null, updates: 0 });
// /leaks?stage: the projector's layout (?scenario=a,b: those scenarios; else the run's own)
const PARAMS = new URLSearchParams(location.search);
const STAGE = PARAMS.has("stage");

function told(body) {
  // the scenarios the stage shows: asked for, else the ones the run drives, else the story's
  const known = body.told.scenarios;
  const asked = (PARAMS.get("scenario") || "").split(",").filter((n) => n in known);
  const running = (body.told.running || []).filter((n) => n in known);
  const names = asked.length ? asked : running.length ? running : body.told.story;
  return {
    names,
    charts: new Set(names.flatMap((n) => known[n].charts)),
    resources: new Set(names.flatMap((n) => known[n].resources)),
  };
}

function colour(app, index) {
  return COLOURS[app] || FALLBACK[index % FALLBACK.length];
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function plotData(chart, apps) {
  const data = [chart.times];
  chart.lines.forEach((_line, n) => apps.forEach((app) => data.push(chart.series[app][n])));
  return data;
}

function plotSeries(chart, apps) {
  const series = [{}];
  chart.lines.forEach((line, n) =>
    apps.forEach((app, a) =>
      series.push({
        label: `${app} ${line.label}`,
        stroke: colour(app, a),
        width: line.dashed ? 2 : 3,
        dash: line.dashed ? [10, 6] : undefined,
        spanGaps: false,
        points: { show: false },
        value: (_u, v) => (v == null ? "–" : number.format(v)),
      }),
    ),
  );
  return series;
}

function size(container, plot) {
  if (STAGE) {
    // the plot takes the height its grid cell leaves: the page never scrolls
    return { width: Math.max(200, container.clientWidth - 28), height: Math.max(80, plot.clientHeight - 4) };
  }
  const width = Math.max(320, container.clientWidth - 28);
  return { width, height: Math.round(Math.min(340, Math.max(200, width * 0.42))) };
}

function lineKey(chart) {
  // the legend in words, for the stage (uPlot's own legend is hidden there)
  return chart.lines.map((line) => `${line.dashed ? "dashed" : "solid"}: ${line.label}`).join(" · ");
}

function fromZero(_u, _min, max) {
  return [0, Math.max((max || 0) * 1.1, 5)];
}

function aroundData(_u, min, max) {
  const pad = Math.max((max - min) * 0.15, Math.abs(max || 1) * 0.02);
  return [Math.max(0, min - pad), max + pad];
}

function createChart(chart, apps) {
  const box = el("div", { class: "chart", id: `chart-${chart.key}` });
  const title = el("h2", {}, chart.title + " ");
  title.append(el("span", { class: "unit" }, chart.unit));
  const now = el("div", { class: "now" });
  const plot = el("div", { class: "plot" });
  box.append(title, now);
  if (STAGE) box.append(el("div", { class: "key" }, lineKey(chart)));
  box.append(plot);
  document.getElementById("charts").append(box);
  const axis = { stroke: "#9fa7b3", grid: { stroke: "#2c3235" }, ticks: { stroke: "#2c3235" } };
  const options = {
    ...size(box, plot),
    series: plotSeries(chart, apps),
    axes: [{ ...axis }, { ...axis, size: 70 }],
    scales: { x: { time: true }, y: { range: chart.from_zero ? fromZero : aroundData } },
    legend: { live: false },
    cursor: { show: false },
  };
  plots[chart.key] = { uplot: new uPlot(options, plotData(chart, apps), plot), box, now, plot };
}

function describe(chart, apps, box, now) {
  // What a test (or a curious attendee) can read off the page: points, first and last values.
  now.replaceChildren();
  apps.forEach((app) => {
    const values = chart.series[app][0].filter((v) => v != null);
    box.dataset[`points${app[0].toUpperCase()}${app.slice(1)}`] = values.length;
    box.dataset[`first${app[0].toUpperCase()}${app.slice(1)}`] = values.length ? values[0] : "";
    box.dataset[`last${app[0].toUpperCase()}${app.slice(1)}`] = values.length
      ? values[values.length - 1]
      : "";
    const last = chart.now[app][0];
    now.append(el("span", { class: app }, `${app} ${last == null ? "–" : number.format(last)}`));
  });
}

function drawCharts(body) {
  const shown = STAGE ? told(body).charts : null;
  const charts = body.charts.filter((chart) => !shown || shown.has(chart.key));
  if (STAGE) {
    const n = charts.length;
    document.getElementById("charts").style.setProperty("--columns", n <= 3 ? Math.max(n, 1) : n === 4 ? 2 : 3);
  }
  for (const chart of charts) {
    if (!plots[chart.key]) createChart(chart, body.apps);
    const { uplot, box, now } = plots[chart.key];
    uplot.setData(plotData(chart, body.apps));
    describe(chart, body.apps, box, now);
  }
}

function growthText(v) {
  if (v.growth_per_1k_requests == null) return v.saturated ? "saturated" : v.reason;
  const sign = v.growth_per_1k_requests >= 0 ? "+" : "";
  const unit = v.unit === "connections" ? "conn." : v.unit;
  let text = `${sign}${number.format(v.growth_per_1k_requests)} ${unit} / 1k req`;
  if (v.saturated) text += ", saturated";
  return text;
}

function drawVerdicts(body) {
  const section = document.getElementById("verdicts");
  const shown = STAGE ? told(body).resources : null;
  const entries = Object.entries(body.verdicts || {})
    .filter(([resource]) => !shown || shown.has(resource))
    .sort((a, b) => a[1].order - b[1].order);
  if (!entries.length) {
    section.replaceChildren(el("div", { class: "verdict" }, body.run_started
      ? "Verdicts: collecting the first points…"
      : "Verdicts appear when a load run starts."));
    return;
  }
  section.replaceChildren(
    ...entries.map(([resource, perApp]) => {
      const card = el("div", { class: "verdict", id: `verdict-${resource}` });
      card.append(el("h2", {}, perApp.title));
      body.apps.forEach((app) => {
        const v = perApp[app];
        if (!v) return;
        const row = el("div", { class: "row" });
        row.append(
          el("span", { class: `app ${app}` }, app),
          el("span", { class: "badge", "data-app": app, "data-verdict": v.verdict, title: v.reason }, v.verdict),
        );
        card.append(row, el("div", { class: "growth" }, growthText(v)));
        if (v.verdict === "LEAK" && v.origin) card.append(el("div", { class: "origin" }, v.origin));
      });
      return card;
    }),
  );
}

function drawRun(body) {
  const l = body.locust || {};
  const parts = [`Locust ${l.state || "?"}`];
  if (l.state && l.state !== "ready") {
    parts.push(`${l.users} users`, `${number.format(l.rps)} req/s`, `${Math.round(l.elapsed)} s`);
    let requests = `${l.requests.toLocaleString("en")} requests`;
    if (l.failures) requests += ` (${l.failures.toLocaleString("en")} refused)`;
    parts.push(requests);
  }
  document.getElementById("run").textContent = parts.join(" · ");
  const error = document.getElementById("error");
  error.hidden = !body.error;
  error.textContent = body.error ? `Prometheus: ${body.error}` : "";
}

async function refresh() {
  try {
    const response = await fetch("/leaks/data", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    drawRun(body);
    drawVerdicts(body); // first: the cards' height sets what is left for the charts
    drawCharts(body);
    if (STAGE) fit();
    leaklab.latest = body;
    leaklab.updates += 1;
    document.body.dataset.updates = leaklab.updates;
  } catch (err) {
    const error = document.getElementById("error");
    error.hidden = false;
    error.textContent = `Locust does not answer (${err.message}): is the load still running?`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

function fit() {
  // each plot to its cell, after the cards or the window changed size
  for (const { uplot, box, plot } of Object.values(plots)) {
    const wanted = size(box, plot); // on stage the cell's size, whatever the canvas's
    if (wanted.width !== uplot.width || wanted.height !== uplot.height) uplot.setSize(wanted);
  }
}

if (STAGE) {
  document.body.classList.add("stage");
  const layout = document.getElementById("layout");
  layout.textContent = "Full view";
  layout.href = "/leaks";
}
window.addEventListener("resize", fit);
refresh();
