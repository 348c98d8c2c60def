// The blog's pages are complete without this script; it adds what needs an account:
// logging in and out, registering, writing, editing and deleting, over the JSON APIs.
// Text from people goes into the page as text (textContent), never as markup.
// Its own words are in English; a page in another language loads their translations
// first (/blog/i18n/{language}.js, from the blog_script catalog), and t() looks them up.
"use strict";

(function () {
  const store = window.sessionStorage;
  const KEYS = { token: "titanium.token", refresh: "titanium.refresh", username: "titanium.username", flash: "titanium.flash",
    draft: "titanium.draft:" };

  // --- words in the page's language -------------------------------------------
  const MESSAGES = window.titaniumMessages || {};
  const LANGUAGE = document.documentElement.lang || "en";

  function fill(text, values) {
    return values ? text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole)) : text;
  }

  // The message in the page's language, its %(name)s filled from `values`.
  function t(message, values) {
    const translated = MESSAGES[message];
    return fill(typeof translated === "string" ? translated : message, values);
  }

  // The same for a message that changes with a number (`values.num`): the form the language
  // takes for it (Intl.PluralRules orders them as gettext does for English and Korean).
  function tn(singular, plural, number, values) {
    const forms = MESSAGES[singular];
    const all = { num: number, ...values };
    if (!Array.isArray(forms)) return fill(number === 1 ? singular : plural, all);
    const categories = new Intl.PluralRules(LANGUAGE).resolvedOptions().pluralCategories;
    const index = Math.max(0, categories.indexOf(new Intl.PluralRules(LANGUAGE).select(number)));
    return fill(forms[Math.min(index, forms.length - 1)], all);
  }

  const EXPIRED = t("Your session has expired or is no longer valid. Please log in again; you will come back to what you were doing.");

  // The access token lives minutes; the refresh token renews it (and is replaced by each renewal).
  const session = {
    get token() { return store.getItem(KEYS.token); },
    get refreshToken() { return store.getItem(KEYS.refresh); },
    get username() { return store.getItem(KEYS.username); },
    save(token, username, refreshToken) {
      store.setItem(KEYS.token, token);
      store.setItem(KEYS.username, username);
      if (refreshToken) store.setItem(KEYS.refresh, refreshToken);
    },
    clear() { store.removeItem(KEYS.token); store.removeItem(KEYS.refresh); store.removeItem(KEYS.username); },
  };

  // --- small helpers -------------------------------------------------------
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    node.append(...children); // strings become text nodes
    return node;
  }

  const byId = (id) => document.getElementById(id);
  const here = () => window.location.pathname + window.location.search;
  const loginUrl = (next) => `/blog/login?next=${encodeURIComponent(next)}`;

  function safeNext(value) {
    // Only a page of this blog: never another site ("//host", "/\\host", "https:...").
    if (typeof value !== "string" || !/^\/blog(\/|$|\?)/.test(value) || /[\\\s]/.test(value)) return null;
    return value;
  }

  // A message for the next page (kind "warning" for what went wrong), shown there with focus on its heading.
  function flash(message, kind = "info") { store.setItem(KEYS.flash, JSON.stringify({ message, kind })); }

  function showFlash() {
    const saved = store.getItem(KEYS.flash);
    if (!saved) return;
    store.removeItem(KEYS.flash);
    let note;
    try { note = JSON.parse(saved); } catch (_error) { return; }
    const box = byId("flash");
    if (box && note && typeof note.message === "string") {
      box.textContent = note.message;
      box.classList.toggle("warning", note.kind === "warning");
    }
    focusHeading();
  }

  function focusHeading() {
    const heading = byId("page-title");
    if (heading) heading.focus();
  }

  function sendToLogin(message) {
    session.clear();
    flash(message, "warning");
    window.location.assign(loginUrl(here()));
  }

  function claims(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (_error) {
      return {};
    }
  }

  // --- talking to the APIs ---------------------------------------------------
  class Failure extends Error {
    constructor(status, data, retryAfter) {
      super(`request failed (${status})`);
      this.status = status;
      this.data = data;
      this.retryAfter = retryAfter;
    }
  }

  // Renew this many seconds before the access token expires, so a write never meets the expiry.
  const RENEW_AHEAD_SECONDS = 60;
  let renewing = null;

  // A new token pair from the refresh token; whether it was had. One renewal at a time: a refresh
  // token is spent by its use, and sending it twice would look like a stolen copy and end the session.
  function renew() {
    if (!session.refreshToken) return Promise.resolve(false);
    if (!renewing) {
      renewing = (async () => {
        try {
          const response = await fetch("/api/refresh", {
            method: "POST", headers: { Accept: "application/json", "Content-Type": "application/json" },
            body: JSON.stringify({ refresh_token: session.refreshToken }), credentials: "same-origin", cache: "no-store",
          });
          if (!response.ok) return false;
          const answer = await response.json();
          session.save(answer.token, session.username || claims(answer.token).username, answer.refresh_token);
          return true;
        } catch (_error) {
          return false;
        } finally {
          renewing = null;
        }
      })();
    }
    return renewing;
  }

  function expiresSoon(token) {
    const exp = claims(token).exp;
    return typeof exp === "number" && exp - Date.now() / 1000 < RENEW_AHEAD_SECONDS;
  }

  // The blog does a write with a key once: a write sent again with its key
  // after a lost answer (by the writer, or by the gateway when a process died)
  // is answered, not done a second time.
  function newIdempotencyKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));  // randomUUID needs a secure context
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  async function call(path, { method = "GET", body, auth = false, renewed = false, idempotencyKey } = {}) {
    if (auth && session.token && !renewed && expiresSoon(session.token)) await renew();
    const headers = { Accept: "application/json" };
    const form = body instanceof FormData;  // an upload: the browser writes its multipart type
    if (body !== undefined && !form) headers["Content-Type"] = "application/json";
    if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined || form ? body : JSON.stringify(body),
        credentials: "same-origin", cache: "no-store",
      });
    } catch (_error) {
      throw new Failure(0, null, null);
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (_error) { data = null; }
    }
    if (response.status === 401 && auth && !renewed && await renew()) {
      return call(path, { method, body, auth, renewed: true, idempotencyKey });  // the write retried once, with the new token
    }
    if (!response.ok) throw new Failure(response.status, data, response.headers.get("Retry-After"));
    return data;
  }

  // --- failures in words ------------------------------------------------------
  const LABELS = {
    title: t("The title"), content: t("The text"), category_name: t("The category"), category_id: t("The category"),
    username: t("The username"), email: t("The email address"), password: t("The password"),
  };

  const MAX_LENGTHS = { title: 120, content: 20000, category_name: 50, username: 32, email: 254, password: 128 };

  function sentence(item) {
    const loc = Array.isArray(item && item.loc) ? item.loc : [];
    const field = loc.length > 1 ? String(loc[loc.length - 1]) : null;
    const label = LABELS[field] || t("This field");
    const message = String((item && item.msg) || "");
    const number = (pattern) => { const found = message.match(pattern); return found ? Number(found[1]) : null; };
    const atLeast = (item && item.ctx && item.ctx.min_length) || number(/at least (\d+)/);
    const atMost = (item && item.ctx && item.ctx.max_length) || number(/at most (\d+)/) || MAX_LENGTHS[field];
    switch (item && item.type) {
      case "missing":
        return field === null ? t("Something required is missing. Please fill in every field.") : t("%(label)s is required.", { label });
      case "string_too_short":
        return atLeast > 1 ? t("%(label)s needs at least %(count)s characters.", { label, count: atLeast })
          : t("%(label)s cannot be empty.", { label });
      case "string_too_long":
        return atMost ? t("%(label)s is too long: it may have at most %(count)s characters.", { label, count: atMost })
          : t("%(label)s is too long.", { label });
      case "string_pattern_mismatch":
        return field === "username"
          ? t("The username may only use letters, digits, “_”, “.” and “-”, from 3 to 32 of them.")
          : t("%(label)s is not written the way it should be.", { label });
      default:
        break;
    }
    if (field === "email") return t("The email address does not look right. Please check it.");
    if (field === "category_id") return t("That category does not exist any more. Please choose another one.");
    if (field === "password" && /8 characters/.test(message)) return t("The password needs at least 8 characters other than spaces.");
    if (/blank/.test(message)) return t("%(label)s cannot be only spaces.", { label });
    if (/category/.test(message)) return t("Please choose a category.");
    if (/NUL/.test(message)) return t("%(label)s contains a character that cannot be stored.", { label });
    return field === null ? t("Some of what you entered was not accepted. Please check the form.")
      : t("%(label)s was not accepted. Please check it.", { label });
  }

  function explain(failure, action) {
    const status = failure instanceof Failure ? failure.status : -1;
    const detail = failure && failure.data && failure.data.detail;
    if (status === 0) return [t("The blog could not be reached. Check your connection, then try again.")];
    if (status === 422 && Array.isArray(detail)) return [...new Set(detail.map(sentence))];
    if (status === 401 && action === "login") return [t("The username or the password is not right. Please check both and try again.")];
    if ((status === 409 || status === 400) && action === "register") return [t("That username is already taken. Please choose another one.")];
    if (status === 409) return [t("Someone changed this post at the same moment. Please try again.")];
    if (status === 403) return [t("Only the author of a post may change or delete it.")];
    if (status === 404) return [t("This post does not exist any more. It may have been deleted.")];
    if (status === 413) return [t("What you wrote is too large to send. Please shorten it.")];
    if (status === 429) {
      const wait = parseInt(failure.retryAfter, 10);
      return [wait > 0
        ? tn("There were too many attempts in a short time. Please wait %(num)s second, then try again.",
          "There were too many attempts in a short time. Please wait %(num)s seconds, then try again.", wait)
        : t("There were too many attempts in a short time. Please wait a minute, then try again.")];
    }
    if (status >= 500) return [t("The blog is having trouble right now. Nothing was lost: please try again in a moment.")];
    if (status === -1) return [t("Something went wrong in this page. Please reload it and try again.")];
    return [t("Something went wrong (error %(status)s). Please try again.", { status })];
  }

  // --- forms -----------------------------------------------------------------
  function showErrors(messages, fields) {
    const box = byId("form-errors");
    if (!box) return;
    const heading = el("p", {}, messages.length === 1 ? messages[0] : t("Please fix these problems:"));
    box.replaceChildren(heading);
    if (messages.length > 1) box.append(el("ul", {}, ...messages.map((message) => el("li", {}, message))));
    box.hidden = false;
    for (const name of fields || []) {
      const input = document.querySelector(`[name="${name}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
    box.focus();
  }

  function clearErrors(form) {
    const box = byId("form-errors");
    if (box) { box.hidden = true; box.replaceChildren(); }
    if (form) form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  }

  function fieldsOf(failure) {
    const detail = failure && failure.data && failure.data.detail;
    if (!Array.isArray(detail)) return [];
    return detail.map((item) => (Array.isArray(item.loc) && item.loc.length > 1 ? String(item.loc[item.loc.length - 1]) : null))
      .filter(Boolean);
  }

  function setBusy(form, busy) {
    const button = byId("submit") || (form && form.querySelector("[type=submit]"));
    if (button) button.disabled = busy;
    if (form) form.setAttribute("aria-busy", String(busy));
    const indicator = byId("busy");
    if (indicator) indicator.hidden = !busy;
  }

  // One request a submit: a second click while the first is on its way does nothing.
  function onSubmit(form, handler) {
    let sending = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (sending) return;
      sending = true;
      setBusy(form, true);
      clearErrors(form);
      let keepBusy = false;
      try {
        keepBusy = (await handler(new FormData(form))) === true;
      } catch (failure) {
        showErrors(explain(failure, form.dataset.action), fieldsOf(failure));
      } finally {
        if (!keepBusy) { sending = false; setBusy(form, false); }
      }
    });
    // A page brought back by the Back button must not stay busy.
    window.addEventListener("pageshow", (event) => { if (event.persisted) { sending = false; setBusy(form, false); } });
  }

  function required(values, checks) {
    const problems = [];
    const fields = [];
    for (const [name, test, message] of checks) {
      if (!test(String(values.get(name) || ""))) { problems.push(message); fields.push(name); }
    }
    if (problems.length) showErrors(problems, fields);
    return problems.length === 0;
  }

  function counters() {
    for (const counter of document.querySelectorAll(".counter[data-limit]")) {
      const input = byId(counter.id.replace(/-count$/, ""));
      const value = counter.querySelector(".count-value");
      const limit = Number(counter.dataset.limit);
      if (!input || !value) continue;
      const update = () => {
        value.textContent = String(input.value.length);
        counter.classList.toggle("near-limit", input.value.length >= limit * 0.9);
      };
      input.addEventListener("input", update);
      update();
    }
  }

  // --- the account in the header ---------------------------------------------
  function renderAccount() {
    const nav = byId("account");
    if (!nav) return;
    if (session.token) {
      const logout = el("button", { type: "button" }, t("Log out"));
      logout.addEventListener("click", async () => {
        logout.disabled = true;
        try {
          // Ends the session on the server too: the tokens stop working, not just leave this tab.
          await call("/api/logout", { method: "POST", auth: true, body: { refresh_token: session.refreshToken || undefined } });
        } catch (_failure) {
          // Already ended or unreachable: the tab forgets the tokens all the same.
        }
        session.clear();
        flash(t("You are logged out."));
        window.location.assign("/blog/");
      });
      nav.replaceChildren(el("a", { href: "/blog/write" }, t("Write")), el("a", { href: "/blog/your-feed" }, t("Your feed")),
        el("span", { class: "who" }, el("span", { class: "visually-hidden" }, t("Logged in as") + " "), session.username || t("you")),
        logout);
    } else {
      const page = document.body.dataset.page;
      const next = page === "login" || page === "register" ? null : here();
      const suffix = next ? `?next=${encodeURIComponent(next)}` : "";
      nav.replaceChildren(el("a", { href: `/blog/login${suffix}` }, t("Log in")),
        el("a", { href: `/blog/register${suffix}` }, t("Register")));
    }
  }

  // --- the pages -----------------------------------------------------------------
  function nextPage() {
    return safeNext(new URLSearchParams(window.location.search).get("next"));
  }

  // The account forms need this script: shown by it, in place of the notice that says so.
  function reveal(form) {
    const notice = byId("needs-js");
    if (notice) notice.hidden = true;
    form.hidden = false;
  }

  function loginPage() {
    const form = byId("login-form");
    reveal(form);
    const next = nextPage();
    const registerLink = byId("register-link");
    if (registerLink && next) registerLink.href = `/blog/register?next=${encodeURIComponent(next)}`;
    form.dataset.action = "login";
    onSubmit(form, async (values) => {
      if (!required(values, [
        ["username", (v) => v.trim() !== "", t("Please enter your username.")],
        ["password", (v) => v !== "", t("Please enter your password.")],
      ])) return false;
      const username = String(values.get("username")).trim();
      const answer = await call("/api/login", { method: "POST", body: { username, password: values.get("password") } });
      session.save(answer.token, claims(answer.token).username || username, answer.refresh_token);
      flash(t("Welcome, %(name)s. You are logged in.", { name: session.username }));
      window.location.assign(next || "/blog/");
      return true;
    });
  }

  function registerPage() {
    const form = byId("register-form");
    reveal(form);
    const next = nextPage();
    const loginLink = byId("login-link");
    if (loginLink && next) loginLink.href = loginUrl(next);
    form.dataset.action = "register";
    onSubmit(form, async (values) => {
      if (!required(values, [
        ["username", (v) => /^[A-Za-z0-9_.-]{3,32}$/.test(v.trim()),
          t("The username needs 3 to 32 letters, digits, “_”, “.” or “-” (no spaces).")],
        ["email", (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim()), t("Please enter an email address such as name@example.com.")],
        ["password", (v) => v.trim().length >= 8, t("The password needs at least 8 characters other than spaces.")],
      ])) return false;
      const username = String(values.get("username")).trim();
      const password = String(values.get("password"));
      await call("/api/register", { method: "POST", body: { username, email: String(values.get("email")).trim(), password } });
      try {
        const answer = await call("/api/login", { method: "POST", body: { username, password } });
        session.save(answer.token, claims(answer.token).username || username, answer.refresh_token);
        flash(t("Welcome, %(name)s. Your account is ready and you are logged in.", { name: username }));
        window.location.assign(next || "/blog/");
      } catch (_failure) {
        flash(t("Your account is ready. Please log in."));
        window.location.assign(next ? loginUrl(next) : "/blog/login");
      }
      return true;
    });
  }

  function draftKey() { return KEYS.draft + window.location.pathname; }

  function saveDraft(form) {
    const values = Object.fromEntries(new FormData(form));
    store.setItem(draftKey(), JSON.stringify(values));
  }

  function restoreDraft(form) {
    const saved = store.getItem(draftKey());
    if (!saved) return false;
    store.removeItem(draftKey());
    try {
      const values = JSON.parse(saved);
      for (const [name, value] of Object.entries(values)) {
        const input = form.elements.namedItem(name);
        if (input && typeof value === "string") input.value = value;
      }
      return true;
    } catch (_error) {
      return false;
    }
  }

  async function writePage() {
    const form = byId("post-form");
    const gate = byId("gate");
    const editing = form.dataset.mode === "edit";
    gate.textContent = t("Checking that you are logged in…");
    gate.className = "loading";
    if (!session.token) {
      flash(editing ? t("Please log in to edit this post.") : t("Please log in to write a post."));
      window.location.replace(loginUrl(here()));
      return;
    }
    try {
      const answer = await call("/api/verify", { auth: true });
      const username = answer && answer.data && answer.data.username;
      if (username) session.save(session.token, username);
    } catch (failure) {
      if (failure instanceof Failure && (failure.status === 401 || failure.status === 400)) {
        session.clear();
        flash(EXPIRED, "warning");
        window.location.replace(loginUrl(here()));
        return;
      }
      // Auth could not answer: the form is shown; sending it will tell.
    }
    if (editing && form.dataset.author !== session.username) {
      gate.textContent = t("Only the author of this post may edit it.");
      gate.className = "notice warning";
      return;
    }
    const restored = restoreDraft(form);
    gate.hidden = true;
    form.hidden = false;
    counters();
    renderAccount();
    if (restored) {
      byId("flash").textContent = t("Your unsaved text is back. Check it, then send it again.");
      form.querySelector("[type=submit]").focus();
    }
    form.dataset.action = editing ? "edit" : "write";
    // Publishing, drafts, preview and images: writing.js.
    await window.titaniumWriting.writePage(form, restored);
  }

  function postPage() {
    const actions = byId("post-actions");
    if (!actions || !session.token || actions.dataset.author !== session.username) return;
    actions.hidden = false;
    const button = byId("delete-post");
    let sending = false;
    button.addEventListener("click", async () => {
      if (sending) return;
      if (!window.confirm(t("Delete the post “%(title)s”? This cannot be undone.", { title: actions.dataset.title }))) return;
      sending = true;
      button.disabled = true;
      byId("busy").hidden = false;
      clearErrors(null);
      try {
        await call(`/blog/api/posts/${actions.dataset.postId}`,
          { method: "DELETE", auth: true, idempotencyKey: newIdempotencyKey() });
        flash(t("The post “%(title)s” is deleted.", { title: actions.dataset.title }));
        window.location.assign("/blog/");
        return;
      } catch (failure) {
        if (failure instanceof Failure && failure.status === 401) { sendToLogin(EXPIRED); return; }
        showErrors(explain(failure, "delete"), []);
      }
      sending = false;
      button.disabled = false;
      byId("busy").hidden = true;
    });
  }

  // --- the theme switch ---------------------------------------------------------
  // Without this script the switch is a form: the server keeps the choice and sends the page
  // back in it. With it, the theme changes at once and the choice is sent in the background.
  function themeSwitch() {
    const form = byId("theme-switch");
    const dark = byId("dark-theme");
    if (!form || !dark) return;
    form.addEventListener("submit", (event) => {
      const theme = event.submitter && event.submitter.value;
      if (theme !== "dark" && theme !== "light") return;
      event.preventDefault();
      dark.media = theme === "dark" ? "all" : "not all";
      document.documentElement.dataset.theme = theme;  // code.css and content.css follow it
      const scheme = document.querySelector('meta[name="color-scheme"]');
      if (scheme) scheme.content = theme;
      // The button pressed is hidden now; the one that took its place keeps the focus.
      const replacement = form.querySelector(theme === "dark" ? ".to-light" : ".to-dark");
      if (replacement) replacement.focus();
      fetch(form.action, {
        method: "POST", body: new URLSearchParams({ theme, next: "/blog/" }), credentials: "same-origin", redirect: "manual",
      }).catch(() => { /* not kept this time: the page still shows the theme chosen */ });
    });
  }

  // What the page's other scripts (writing.js, comments.js) share with this one:
  // one session, one way to call, one voice.
  window.titaniumBlog = Object.freeze({
    t, tn, el, byId, call, Failure, session, explain, showErrors, clearErrors, fieldsOf, onSubmit, required, flash,
    sendToLogin, newIdempotencyKey, EXPIRED, keepForLogin: saveDraft,
  });

  function start() {
    themeSwitch();
    renderAccount();
    showFlash();
    const page = document.body.dataset.page;
    if (page === "login") loginPage();
    else if (page === "register") registerPage();
    else if (page === "write" || page === "edit") writePage();
    else if (page === "post") postPage();
    if (window.titaniumWriting) window.titaniumWriting.authorPage();
  }

  // For community.js (favourites, follows, the reader's feed): the same calls, words and session.
  window.titanium = { call, t, tn, el, session, Failure, explain, showErrors, clearErrors, sendToLogin, EXPIRED };
  start();
})();
