// The community's parts of the pages that need the reader's token (issue 18): the favourite
// button on a post, the follow button on an author's page, and "Your feed". The pages read
// without this script; it uses blog.js's calls, words and session (window.titanium).
// Text from people goes into the page as text (textContent), never as markup.
"use strict";

(function () {
  const T = window.titanium;
  if (!T) return;
  const { call, t, tn, el, session, Failure, explain, sendToLogin, EXPIRED } = T;
  const byId = (id) => document.getElementById(id);

  // A failure said next to the control that met it (role=status: read out, focus kept).
  function say(anchor, failure) {
    let box = anchor.parentElement.querySelector(".community-error");
    if (!box) {
      box = el("p", { class: "community-error", role: "status" });
      anchor.parentElement.append(box);
    }
    box.textContent = failure ? explain(failure, "community").join(" ") : "";
  }

  // --- the favourite button on a post -------------------------------------------
  function favouriteButton() {
    const box = byId("favourite");
    const button = byId("favourite-button");
    if (!box || !button || !session.token) return;
    const path = `/blog/api/posts/${box.dataset.postId}`;
    const count = byId("favourites-count");

    function show(post) {
      const kept = Boolean(post.favourited);
      button.setAttribute("aria-pressed", String(kept));
      button.textContent = kept ? t("Kept") : t("Keep this post");
      count.textContent = tn("%(num)s favourite", "%(num)s favourites", post.favourites_count);
      button.hidden = false;
    }

    call(path, { auth: true }).then(show).catch(() => { /* the count stays as the server wrote it */ });
    let sending = false;
    button.addEventListener("click", async () => {
      if (sending) return;
      sending = true;
      button.disabled = true;
      const keep = button.getAttribute("aria-pressed") !== "true";
      try {
        show(await call(`${path}/favourite`, { method: keep ? "PUT" : "DELETE", auth: true }));
        say(button, null);
      } catch (failure) {
        if (failure instanceof Failure && failure.status === 401) { sendToLogin(EXPIRED); return; }
        say(button, failure);
      }
      sending = false;
      button.disabled = false;
      button.focus();
    });
  }

  // --- the follow button on an author's page ---------------------------------------
  function followButton() {
    const button = byId("follow-author");
    if (!button || !session.token || button.dataset.username === session.username) return;
    const path = `/api/users/${encodeURIComponent(button.dataset.username)}`;

    function show(profile) {
      const following = Boolean(profile.followed);
      button.setAttribute("aria-pressed", String(following));
      button.textContent = following ? t("Following") : t("Follow");
      button.hidden = false;
    }

    call(path, { auth: true }).then(show).catch(() => { /* no button: following can wait */ });
    let sending = false;
    button.addEventListener("click", async () => {
      if (sending) return;
      sending = true;
      button.disabled = true;
      const follow = button.getAttribute("aria-pressed") !== "true";
      try {
        await call(`${path}/follow`, { method: follow ? "POST" : "DELETE", auth: true });
        show({ followed: follow });
        say(button, null);
      } catch (failure) {
        if (failure instanceof Failure && failure.status === 401) { sendToLogin(EXPIRED); return; }
        say(button, failure);
      }
      sending = false;
      button.disabled = false;
      button.focus();
    });
  }

  // --- "Your feed": the posts of the authors the reader follows ------------------------
  function card(post) {
    const url = `/blog/posts/${post.id}`;
    const when = new Date(post.published_at || post.created_at);
    const meta = el("p", { class: "meta" },
      t("By %(author)s", { author: post.author }), " · ",
      el("time", { datetime: when.toISOString() }, when.toLocaleDateString(document.documentElement.lang || "en")), " · ",
      tn("%(num)s favourite", "%(num)s favourites", post.favourites_count));
    const article = el("article", { class: "post-card" }, el("h2", {}, el("a", { href: url }, post.title)), meta);
    if (post.summary) article.append(el("p", { class: "summary" }, post.summary));
    if (post.tags && post.tags.length) {
      article.append(el("ul", { class: "tags", "aria-label": t("Tags") }, ...post.tags.map((tag) =>
        el("li", {}, el("a", { class: "tag", href: `/blog/tags/${encodeURIComponent(tag.slug).replace(/%2F/g, "/")}` },
          `#${tag.name}`)))));
    }
    return el("li", {}, article);
  }

  function yourFeed() {
    const list = byId("your-feed-posts");
    if (!list || !session.token) return;
    byId("your-feed-login").hidden = true;
    const busy = byId("your-feed-busy");
    const more = byId("your-feed-more");
    let cursor = null;

    async function load() {
      busy.hidden = false;
      more.hidden = true;
      const query = cursor ? `?limit=10&cursor=${encodeURIComponent(cursor)}` : "?limit=10";
      try {
        // Through blog.js's call first: it renews a token about to expire (the list's own call needs its headers).
        if (!cursor) await call("/blog/api/feed/count", { auth: true });
        const response = await fetch(`/blog/api/feed${query}`, {
          headers: { Accept: "application/json", Authorization: `Bearer ${session.token}` },
          credentials: "same-origin", cache: "no-store",
        });
        if (response.status === 401) { sendToLogin(EXPIRED); return; }
        const data = await response.json().catch(() => null);
        if (!response.ok) throw new Failure(response.status, data, response.headers.get("Retry-After"));
        const first = list.children.length;
        list.append(...data.map(card));
        byId("your-feed-empty").hidden = list.children.length > 0;
        cursor = response.headers.get("X-Next-Cursor");
        more.hidden = !cursor;
        say(more, null);
        // After "older posts", the first new post takes the focus: the reader goes on from there.
        if (first > 0 && list.children[first]) list.children[first].querySelector("a").focus();
      } catch (failure) {
        if (failure instanceof Failure && failure.status === 401) { sendToLogin(EXPIRED); return; }
        say(more, failure instanceof Failure ? failure : new Failure(0, null, null));
        more.hidden = false;
      } finally {
        busy.hidden = true;
      }
    }

    more.addEventListener("click", load);
    load();
  }

  const page = document.body.dataset.page;
  if (page === "post") favouriteButton();
  else if (page === "list") followButton();
  else if (page === "your-feed") yourFeed();
})();
