// The live status page: asks the gateway's /stats every few seconds and
// draws one card per service. Every value is put in with textContent, so
// nothing a service reports can become markup.
"use strict";

const REFRESH_MS = 5000;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function describe(value) {
  if (value && typeof value === "object") {
    const parts = Object.entries(value).map(([name, inner]) => `${name}: ${inner}`);
    return parts.length ? parts.join(", ") : "—";
  }
  return String(value);
}

function figures(entry) {
  const shown = [];
  for (const [key, value] of Object.entries(entry)) {
    if (key === "service" || key === "service_status") continue;
    shown.push([key.replace(/_/g, " "), describe(value)]);
  }
  return shown;
}

function card(name, entry) {
  const status = entry.service_status || "offline";
  const node = element("article", `card ${status}`);
  node.dataset.service = name;
  const title = element("h2", "", name);
  title.append(element("span", "badge", status));
  node.append(title);
  const list = element("dl");
  for (const [key, value] of figures(entry)) {
    list.append(element("dt", "", key), element("dd", "", value));
  }
  node.append(list);
  return node;
}

async function refresh() {
  const summary = document.getElementById("summary");
  try {
    const response = await fetch("/stats", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`status ${response.status}`);
    const stats = await response.json();
    const names = Object.keys(stats).sort();
    document.getElementById("services").replaceChildren(...names.map((name) => card(name, stats[name])));
    const online = names.filter((name) => stats[name].service_status === "online").length;
    summary.textContent = `${online} of ${names.length} services online · updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    summary.textContent = `The status could not be fetched (${error.message}); trying again.`;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
