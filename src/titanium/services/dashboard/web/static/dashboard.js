// The live status page: asks the gateway's /stats every few seconds and
// draws one card per service: its status, its figures and its golden
// signals (current values and a chart of the last 15 minutes each). Every
// value is put in with textContent or setAttribute, so nothing a service
// reports can become markup. When /stats cannot be fetched the cards say
// "unknown" and a message says why: they are never left showing "online".
"use strict";

const REFRESH_MS = 5000;
const FETCH_TIMEOUT_MS = 8000; // longer than the dashboard waits for a service (a few seconds)
const HISTORY_SECONDS = 15 * 60;
const SHORTEST_SPAN_SECONDS = 60; // a platform just started fills a chart this wide, not 15 minutes
const SVG_NS = "http://www.w3.org/2000/svg";
// Not shown: drawn elsewhere on the card, or not for a public page (process ids, internal addresses).
const NOT_FIGURES = new Set(["service", "service_status", "signals", "pid", "pids", "upstreams", "error",
  "uptime_seconds", "replicas"]);
const STATUS = {
  online: { icon: "✓", text: "online" },
  degraded: { icon: "▲", text: "degraded" },
  offline: { icon: "✕", text: "offline" },
  unknown: { icon: "?", text: "unknown" },
};

const state = { last: null, lastAt: null, paused: false, timer: null, busy: false };

// ---- formatting -----------------------------------------------------------

function number(value, digits) {
  return value.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function rate(value) {
  if (value === null || value === undefined) return "—";
  return `${number(value, value < 10 ? 2 : 1)}/s`;
}

function millis(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 1000) return `${number(value / 1000, 2)} s`;
  return `${number(value, value < 10 ? 1 : 0)} ms`;
}

function percent(value) {
  return value === null || value === undefined ? "—" : `${number(value, value < 10 ? 1 : 0)} %`;
}

function count(value) {
  return value === null || value === undefined ? "—" : number(value, 0);
}

function bytes(value) {
  return value === null || value === undefined ? "—" : `${number(value / 1048576, 1)} MiB`;
}

function clock(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString("en-GB");
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function describe(value) {
  if (value && typeof value === "object") {
    const parts = Object.entries(value).map(([name, inner]) => `${name} ${inner}`);
    return parts.length ? parts.join(", ") : "—";
  }
  return String(value);
}

// ---- the signals ----------------------------------------------------------

function share(part, whole) {
  if (part === null || part === undefined || !whole) return "";
  return ` (${number((100 * part) / whole, 1)} %)`;
}

const SIGNALS = [
  {
    key: "rps", title: "Requests", format: rate, floor: 1,
    lines: [{ field: "rps", name: "requests" }],
    now: (c) => rate(c.rps),
  },
  {
    key: "errors", title: "Errors", format: rate, floor: 0.1,
    lines: [{ field: "err4xx", name: "4xx" }, { field: "err5xx", name: "5xx" }],
    now: (c) => `4xx ${rate(c.err4xx)}${share(c.err4xx, c.rps)} · 5xx ${rate(c.err5xx)}${share(c.err5xx, c.rps)}`,
  },
  {
    key: "latency", title: "Latency", format: millis, floor: 10,
    lines: [{ field: "p50", name: "P50" }, { field: "p95", name: "P95" }, { field: "p99", name: "P99" }],
    now: (c) => (c.p50 === null || c.p50 === undefined ? "no requests"
      : `P50 ${millis(c.p50)} · P95 ${millis(c.p95)} · P99 ${millis(c.p99)}`),
  },
  {
    key: "inflight", title: "In flight", format: count, floor: 2,
    lines: [{ field: "inflight", name: "in flight" }],
    now: (c) => count(c.inflight),
  },
  {
    key: "cpu", title: "CPU", format: percent, floor: 5,
    lines: [{ field: "cpu", name: "CPU" }],
    now: (c) => percent(c.cpu),
  },
  {
    key: "rss", title: "Memory", format: bytes, floor: 0, fromZero: false,
    lines: [{ field: "rss", name: "resident memory" }],
    now: (c) => bytes(c.rss),
  },
];

function svg(tag, attributes) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function range(spec, series) {
  let low = Infinity;
  let high = -Infinity;
  for (const line of spec.lines) {
    for (const value of series[line.field] || []) {
      if (value === null || value === undefined) continue;
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  if (high === -Infinity) return null;
  return { low, high };
}

function scale(spec, seen) {
  if (!seen) return { low: 0, high: spec.floor || 1 };
  if (spec.fromZero === false) {
    const pad = Math.max((seen.high - seen.low) * 0.15, seen.high * 0.02, 1);
    return { low: Math.max(0, seen.low - pad), high: seen.high + pad };
  }
  return { low: 0, high: Math.max(seen.high * 1.1, spec.floor) };
}

function spanText(seconds) {
  return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

// The time the charts cover: the last 15 minutes, or less while there is less history (every card alike).
function chartSpan(stats) {
  let span = SHORTEST_SPAN_SECONDS;
  for (const entry of Object.values(stats)) {
    const signals = entry && entry.signals;
    const times = signals && signals.series && signals.series.t;
    if (times && times.length && signals.generated_at) {
      span = Math.max(span, signals.generated_at - times[0] + (signals.interval_seconds || 0));
    }
  }
  return Math.min(HISTORY_SECONDS, span);
}

function path(times, values, start, span, bounds, width, height) {
  const pad = 3;
  let d = "";
  let open = false;
  for (let i = 0; i < times.length; i += 1) {
    const value = values[i];
    if (value === null || value === undefined || times[i] < start) {
      open = false;
      continue;
    }
    const x = ((times[i] - start) / span) * width;
    const y = height - pad - ((value - bounds.low) / (bounds.high - bounds.low)) * (height - 2 * pad);
    const point = `${x.toFixed(1)} ${y.toFixed(1)}`;
    if (open) {
      d += ` L${point}`;
    } else {
      d += `${d ? " " : ""}M${point} l0.01 0`; // a lone point still shows (round caps)
      open = true;
    }
  }
  return d;
}

function alternative(spec, seen, signals, span) {
  const current = signals.current || {};
  const parts = [];
  for (const line of spec.lines) {
    const values = (signals.series[line.field] || []).filter((v) => v !== null && v !== undefined);
    if (!values.length) continue;
    parts.push(`${line.name} between ${spec.format(Math.min(...values))} and ${spec.format(Math.max(...values))}`);
  }
  const over = `over the last ${spanText(span).replace(" s", " seconds").replace(" min", " minutes")}`;
  const body = seen && parts.length ? `${parts.join("; ")} ${over}` : `no data yet ${over}`;
  return `${spec.title}: ${body}. Now: ${spec.now(current)}.`;
}

function chart(spec, signals, span) {
  const width = 300;
  const height = 60;
  const series = signals.series || {};
  const times = series.t || [];
  const end = signals.generated_at || Date.now() / 1000;
  const start = end - span;
  const seen = range(spec, series);
  const bounds = scale(spec, seen);
  const text = alternative(spec, seen, { ...signals, series }, span);
  const node = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": text, class: "chart",
  });
  const title = svg("title");
  title.textContent = text;
  node.append(title);
  node.append(svg("line", { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: "axis" }));
  spec.lines.forEach((line, index) => {
    const d = path(times, series[line.field] || [], start, span, bounds, width, height);
    if (d) node.append(svg("path", { d, class: `line line-${index}`, "vector-effect": "non-scaling-stroke" }));
  });
  return { node, bounds };
}

function tile(spec, signals, stale, span) {
  const node = element("figure", `signal${stale ? " is-stale" : ""}`);
  node.dataset.signal = spec.key;
  const caption = element("figcaption");
  caption.append(element("span", "signal-name", spec.title));
  const value = element("span", "signal-value", spec.now(signals.current || {}));
  caption.append(value);
  if (spec.lines.length > 1) {
    const legend = element("span", "legend");
    spec.lines.forEach((line, index) => {
      const key = element("span", `key key-${index}`);
      key.append(element("span", "swatch", ""), document.createTextNode(line.name));
      legend.append(key);
    });
    caption.append(legend);
  }
  node.append(caption);
  const { node: drawing, bounds } = chart(spec, signals, span);
  node.append(drawing);
  const foot = element("div", "signal-scale");
  foot.append(element("span", "", `last ${spanText(span)}`));
  foot.append(element("span", "", `max ${spec.format(bounds.high)}`));
  node.append(foot);
  return node;
}

// ---- the cards ------------------------------------------------------------

function badge(status) {
  const shown = STATUS[status] || STATUS.unknown;
  const node = element("span", "badge");
  node.append(element("span", "icon", shown.icon), document.createTextNode(` ${shown.text}`));
  node.firstChild.setAttribute("aria-hidden", "true");
  return node;
}

function staleNote(entry, unknownSince) {
  if (unknownSince !== null) {
    return `Not current: the status could not be fetched since ${clock(unknownSince)}.`;
  }
  const signals = entry.signals;
  if (!signals) return "No signals: the dashboard gave none.";
  if (!signals.stale) return null;
  if (signals.last_scrape === null || signals.last_scrape === undefined) {
    return `Signals not read yet${signals.last_error ? ` (${signals.last_error})` : ""}.`;
  }
  const why = signals.last_error ? ` (${signals.last_error})` : "";
  return `Signals stale: last read at ${clock(signals.last_scrape)}${why}.`;
}

function figures(entry) {
  const list = element("dl", "figures");
  if (typeof entry.uptime_seconds === "number") {
    list.append(element("dt", "", "uptime"), element("dd", "", duration(entry.uptime_seconds)));
  }
  // A service run as several processes: how many answer, and whose signals are shown.
  const replicas = entry.replicas;
  if (replicas && replicas.total > 1) {
    list.append(element("dt", "", "processes"), element("dd", "", `${replicas.online} of ${replicas.total} online`));
  }
  const scraped = entry.signals && entry.signals.replicas;
  if (scraped && scraped.total > 1 && scraped.scraped < scraped.total && scraped.scraped > 0) {
    const why = scraped.errors.length ? ` (others: ${scraped.errors.join(", ")})` : "";
    list.append(element("dt", "", "signals"),
      element("dd", "", `from ${scraped.scraped} of ${scraped.total} processes${why}`));
  }
  for (const [key, value] of Object.entries(entry)) {
    if (NOT_FIGURES.has(key)) continue;
    list.append(element("dt", "", key.replace(/_/g, " ")), element("dd", "", describe(value)));
  }
  if (entry.error) list.append(element("dt", "", "reason"), element("dd", "", `no answer (${entry.error})`));
  return list;
}

function card(name, entry, unknownSince, span) {
  const status = unknownSince !== null ? "unknown" : (STATUS[entry.service_status] ? entry.service_status : "unknown");
  const note = staleNote(entry, unknownSince);
  const stale = note !== null;
  const node = element("article", `card status-${status}${stale ? " stale" : ""}`);
  node.dataset.service = name;
  node.dataset.status = status;
  node.dataset.stale = String(stale);
  const heading = element("h2");
  heading.id = `service-${name}`;
  heading.append(element("span", "service-name", name), badge(status));
  node.setAttribute("aria-labelledby", heading.id);
  node.append(heading);
  if (note) {
    const warning = element("p", "stale-note");
    warning.append(element("span", "icon", "⚠"), document.createTextNode(` ${note}`));
    warning.firstChild.setAttribute("aria-hidden", "true");
    node.append(warning);
  }
  node.append(figures(entry));
  const signals = entry.signals;
  if (signals && signals.series) {
    const grid = element("div", "signals");
    for (const spec of SIGNALS) grid.append(tile(spec, signals, stale, span));
    node.append(grid);
  }
  return node;
}

function ordered(stats) {
  // In the order /stats gives them: the platform's registry's (the public entry first).
  return Object.keys(stats);
}

function draw(stats, unknownSince) {
  const names = ordered(stats);
  const span = chartSpan(stats);
  document.getElementById("services").replaceChildren(
    ...names.map((name) => card(name, stats[name], unknownSince, span)));
  return names;
}

function say(id, text) {
  const node = document.getElementById(id);
  if (node.textContent !== text) node.textContent = text; // the live region speaks on change only
}

function summarise(stats, names) {
  const online = names.filter((name) => stats[name].service_status === "online").length;
  const troubled = names
    .filter((name) => stats[name].service_status !== "online")
    .map((name) => `${name} ${stats[name].service_status || "unknown"}`);
  const stale = names.filter((name) => !stats[name].signals || stats[name].signals.stale);
  let text = `${online} of ${names.length} services online`;
  if (troubled.length) text += ` (${troubled.join(", ")})`;
  if (stale.length) text += `; signals stale for ${stale.join(", ")}`;
  return `${text}.`;
}

// ---- fetching -------------------------------------------------------------

async function fetchStats() {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch("/stats", {
      headers: { Accept: "application/json" }, cache: "no-store", signal: controller.signal,
    });
    if (!response.ok) throw new Error(`answer ${response.status}`);
    const stats = await response.json();
    if (!stats || typeof stats !== "object" || Array.isArray(stats)) throw new Error("not a status answer");
    return stats;
  } catch (error) {
    if (error.name === "AbortError") throw new Error(`no answer in ${FETCH_TIMEOUT_MS / 1000} s`);
    throw error;
  } finally {
    clearTimeout(timeout);
  }
}

async function refresh() {
  const problem = document.getElementById("problem");
  const now = Date.now() / 1000;
  try {
    const stats = await fetchStats();
    state.last = stats;
    state.lastAt = now;
    state.failingSince = null;
    const names = draw(stats, null);
    say("summary", summarise(stats, names));
    say("updated", `Updated ${clock(now)}${state.paused ? " · updates paused" : ""}`);
    problem.hidden = true;
    problem.textContent = "";
    document.body.dataset.state = "live";
  } catch (error) {
    if (state.failingSince === null || state.failingSince === undefined) state.failingSince = now;
    if (state.last) draw(state.last, state.failingSince);
    const known = state.lastAt ? ` The cards show what was known at ${clock(state.lastAt)}.` : "";
    say("summary", "Status unknown: the figures could not be fetched.");
    say("updated", state.lastAt ? `Last updated ${clock(state.lastAt)}` : "Never updated");
    problem.textContent = `The status could not be fetched (${error.message}) since ${clock(state.failingSince)}.`
      + `${known} Trying again every ${REFRESH_MS / 1000} seconds.`;
    problem.hidden = false;
    document.body.dataset.state = "unknown";
  }
}

async function tick() {
  clearTimeout(state.timer);
  state.timer = null;
  if (state.busy) return;
  state.busy = true;
  try {
    await refresh();
  } finally {
    state.busy = false;
    if (!state.paused) state.timer = setTimeout(tick, REFRESH_MS);
  }
}

function setUpPause() {
  const button = document.getElementById("pause");
  button.addEventListener("click", () => {
    state.paused = !state.paused;
    button.setAttribute("aria-pressed", String(state.paused)); // a toggle: its name stays, its state changes
    if (state.paused) {
      clearTimeout(state.timer);
      state.timer = null;
      say("updated", `${state.lastAt ? `Updated ${clock(state.lastAt)}` : "Never updated"} · updates paused`);
    } else {
      tick();
    }
  });
}

setUpPause();
tick();
