// The blog single-page app: hash routes over the blog and account APIs.
// All user text goes in with textContent, never as markup.
"use strict";

const view = document.getElementById("view");
const session = {
  get token() { return sessionStorage.getItem("titanium.token"); },
  get username() { return sessionStorage.getItem("titanium.username"); },
  save(token, username) { sessionStorage.setItem("titanium.token", token); sessionStorage.setItem("titanium.username", username); },
  clear() { sessionStorage.removeItem("titanium.token"); sessionStorage.removeItem("titanium.username"); },
};

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(path, { ...options, headers });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail;
    const message = Array.isArray(detail) ? detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ") : detail;
    throw new Error(message || `request failed (${response.status})`);
  }
  return body;
}

function when(iso) { return new Date(iso).toLocaleString(); }
function chip(category) {
  const node = el("a", { class: "chip", href: `#/?category=${encodeURIComponent(category.slug)}` }, category.name);
  node.style.background = category.color || "#475569"; // CSSOM, which the page's CSP allows; a style attribute it would not
  return node;
}

function renderAccount() {
  const nav = document.getElementById("account");
  if (session.token) {
    nav.replaceChildren(el("a", { href: "#/new" }, "Write"), el("span", {}, ` ${session.username} `),
      el("button", { onclick: () => { session.clear(); renderAccount(); location.hash = "#/"; } }, "Log out"));
  } else {
    nav.replaceChildren(el("a", { href: "#/login" }, "Log in"), el("a", { href: "#/register" }, "Register"));
  }
}

async function listView(params) {
  const category = params.get("category");
  const query = category ? `?category=${encodeURIComponent(category)}` : "";
  const [posts, categories] = await Promise.all([api(`/blog/api/posts${query}`), api("/blog/api/categories")]);
  const chips = el("div", { class: "chips" }, el("a", { class: "chip all", href: "#/" }, "All"), ...categories.map(chip));
  const items = posts.map((post) => el("article", { class: "post" },
    el("h2", {}, el("a", { href: `#/posts/${post.id}` }, post.title)),
    el("div", { class: "meta" }, `${post.author} · ${when(post.created_at)} · `, chip(post.category)),
    el("p", {}, post.excerpt)));
  view.replaceChildren(chips, ...(items.length ? items : [el("p", {}, "No posts yet.")]));
}

async function postView(id) {
  const post = await api(`/blog/api/posts/${id}`);
  const actions = el("div", { class: "actions" });
  if (post.author === session.username) {
    actions.append(el("a", { href: `#/posts/${id}/edit` }, "Edit"), el("button", { onclick: async () => {
      await api(`/blog/api/posts/${id}`, { method: "DELETE" }); location.hash = "#/";
    } }, "Delete"));
  }
  view.replaceChildren(el("article", { class: "post" }, el("h2", {}, post.title),
    el("div", { class: "meta" }, `${post.author} · ${when(post.created_at)} · `, chip(post.category)),
    el("div", { class: "content" }, post.content), actions));
}

function formView(title, fields, submit) {
  const error = el("p", { class: "error" });
  const inputs = fields.map(([name, type, value = ""]) => {
    const input = type === "textarea" ? el("textarea", { name, required: "" }) : el("input", { name, type, required: "" });
    input.value = value;
    return el("label", {}, name.replace("_", " "), el("br"), input);
  });
  const form = el("form", { onsubmit: async (event) => {
    event.preventDefault();
    try { await submit(Object.fromEntries(new FormData(form))); } catch (failure) { error.textContent = failure.message; }
  } }, el("h2", {}, title), ...inputs, el("button", { class: "primary", type: "submit" }, title), error);
  view.replaceChildren(form);
}

async function editView(id) {
  const post = id ? await api(`/blog/api/posts/${id}`) : { title: "", content: "", category: { name: "" } };
  formView(id ? "Save" : "Publish", [["title", "text", post.title], ["category_name", "text", post.category.name], ["content", "textarea", post.content]],
    async (values) => {
      const saved = await api(id ? `/blog/api/posts/${id}` : "/blog/api/posts", { method: id ? "PATCH" : "POST", body: JSON.stringify(values) });
      location.hash = `#/posts/${saved.id}`;
    });
}

const routes = [
  [/^\/posts\/(\d+)\/edit$/, (m) => editView(m[1])],
  [/^\/posts\/(\d+)$/, (m) => postView(m[1])],
  [/^\/new$/, () => editView(null)],
  [/^\/login$/, () => formView("Log in", [["username", "text"], ["password", "password"]], async (values) => {
    const answer = await api("/api/login", { method: "POST", body: JSON.stringify(values) });
    session.save(answer.token, values.username); renderAccount(); location.hash = "#/";
  })],
  [/^\/register$/, () => formView("Register", [["username", "text"], ["email", "email"], ["password", "password"]], async (values) => {
    await api("/api/register", { method: "POST", body: JSON.stringify(values) }); location.hash = "#/login";
  })],
];

async function route() {
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  try {
    for (const [pattern, render] of routes) {
      const match = path.match(pattern);
      if (match) return await render(match);
    }
    await listView(new URLSearchParams(query || ""));
  } catch (failure) {
    view.replaceChildren(el("p", { class: "error" }, failure.message));
  }
}

window.addEventListener("hashchange", route);
renderAccount();
route();
