// Writing a post: drafts saved by themselves while the writer types, a preview rendered by the
// server, publishing now or at a time, unpublishing, and images uploaded by a button or by
// dropping them on the text. Also the writer's own drafts and scheduled posts on their page.
// blog.js, which runs after this file, hands over its helpers (session, call, t, forms) and
// calls titaniumWriting.writePage(form) once the writer is known to be logged in.
"use strict";

(function () {
  // A draft is saved this long after the writer's last keystroke.
  const AUTOSAVE_MS = 2500;
  const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
  // As content.py: at most MAX_TAGS distinct tags a post, each name at most NAME_LENGTH characters.
  const MAX_TAGS = 10;
  const TAG_LENGTH = 50;

  const helpers = () => window.titaniumBlog;

  // A moment in the writer's language and time zone; the time alone when it is today.
  function localTime(iso) {
    const language = document.documentElement.lang || "en";
    const moment = new Date(iso);
    const today = moment.toDateString() === new Date().toDateString();
    return new Intl.DateTimeFormat(language, today ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" })
      .format(moment);
  }

  // The value a datetime-local field shows for a moment: the writer's own clock.
  function fieldTime(iso) {
    const moment = new Date(iso);
    const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 16);
  }

  // The tags field's text as the API takes it: comma-separated names, blanks dropped (none: the post has no tags).
  function tagNames(text) {
    return String(text || "").split(",").map((name) => name.trim()).filter(Boolean);
  }

  // A refusal that is about the tags (content.checked_tags' words, or pydantic's for the "tags" list), in the writer's words.
  function tagProblem(t, failure) {
    const detail = failure && failure.status === 422 && failure.data ? failure.data.detail : null;
    const messages = typeof detail === "string" ? [detail]
      : Array.isArray(detail) ? detail.filter((item) => Array.isArray(item.loc) && item.loc.includes("tags")).map((item) => String(item.msg || ""))
        : [];
    const about = messages.find((message) => typeof detail !== "string" || /\btags?\b/.test(message));
    if (about === undefined) return null;
    if (/at most \d+ tags|at most \d+ items/.test(about)) return t("A post may have at most %(count)s tags.", { count: MAX_TAGS });
    if (/letter or digit/.test(about)) return t("Each tag needs a letter or a digit, also on each side of a “/”.");
    if (/address is at most/.test(about)) return t("A tag is too long for its address. Please shorten it.");
    if (/at most \d+ characters/.test(about)) return t("A tag may have at most %(count)s characters.", { count: TAG_LENGTH });
    if (/invisible|control|NUL/.test(about)) return t("A tag contains an invisible character. Please type it again.");
    if (/feed\.xml/.test(about)) return t("A tag may not end in “/feed.xml”.");
    return t("A tag was not accepted. Please check the tags.");
  }

  function statusOf(post) {
    if (post.status === "draft") return "draft";
    return post.published_at && new Date(post.published_at) > new Date() ? "scheduled" : "published";
  }

  function writePage(form, restored) {
    const b = helpers();
    const { t, byId, call, Failure } = b;
    const text = byId("post-content");
    const state = { id: form.dataset.postId || null, status: form.dataset.mode === "edit" ? "published" : "new" };
    const checks = [
      ["title", (v) => v.trim() !== "", t("Please give the post a title.")],
      ["category_name", (v) => v.trim() !== "", t("Please choose a category or type a new one.")],
      ["content", (v) => v.trim() !== "", t("Please write the text of the post.")],
    ];
    let createKey = b.newIdempotencyKey();
    let saving = Promise.resolve();
    let timer = null;

    const note = (message) => { byId("autosave").textContent = message; };
    const tagsInput = byId("post-tags");
    const tagsError = byId("post-tags-error");

    // The tags' problem in words beside the field (null: none); the field is marked and says it through aria-describedby.
    function tagError(message) {
      tagsError.textContent = message || "";
      tagsError.hidden = !message;
      if (message) tagsInput.setAttribute("aria-invalid", "true");
      else tagsInput.removeAttribute("aria-invalid");
    }

    // Before sending: too many tags, or a name too long, named here rather than after a round trip.
    function tagsValid() {
      const names = tagNames(tagsInput.value);
      const long = names.find((name) => name.length > TAG_LENGTH);
      const distinct = new Set(names.map((name) => name.toLowerCase())).size;
      const message = long !== undefined ? t("The tag “%(tag)s” is too long: a tag may have at most %(count)s characters.", { tag: long, count: TAG_LENGTH })
        : distinct > MAX_TAGS ? t("A post may have at most %(count)s tags.", { count: MAX_TAGS }) : null;
      tagError(message);
      if (message) tagsInput.focus();
      return message === null;
    }
    const show = (id, visible) => { const node = byId(id); if (node) node.hidden = !visible; };

    function showActions() {
      const unsaved = state.status === "new" || state.status === "draft";
      show("save-draft", unsaved);
      show("schedule-post", state.status !== "published");
      show("schedule-field", state.status !== "published");
      show("publish-now", state.status === "scheduled");
      show("unpublish-post", !unsaved);
      byId("submit").textContent = unsaved ? t("Publish") : t("Save changes");
    }

    function fields() {
      const values = new FormData(form);
      return { title: String(values.get("title") || "").trim(), category_name: String(values.get("category_name") || "").trim(),
        content: String(values.get("content") || ""), tags: tagNames(values.get("tags")) };
    }

    function adopt(post) {
      state.id = String(post.id);
      state.status = statusOf(post);
      form.dataset.postId = state.id;
      // A post only its writer sees is reached (after a reload, from a bookmark) at this address.
      if (state.status !== "published") window.history.replaceState(null, "", `/blog/write?draft=${post.id}`);
      if (state.status === "scheduled") byId("post-publish-at").value = fieldTime(post.published_at);
      showActions();
    }

    // The post's text sent as it is now, with `change` (a status, a time); one save at a time, in order.
    function save(change) {
      const send = async () => {
        const body = { ...fields(), ...change };
        const post = state.id === null
          // One key for this text: a create sent again after a lost answer makes no second post.
          ? await call("/blog/api/posts", { method: "POST", body: { status: "draft", ...body }, auth: true, idempotencyKey: createKey })
          : await call(`/blog/api/posts/${state.id}`, { method: "PATCH", body, auth: true, idempotencyKey: b.newIdempotencyKey() });
        adopt(post);
        return post;
      };
      const done = saving.then(send);
      saving = done.catch(() => {});
      return done;
    }

    async function autosave() {
      timer = null;
      const body = fields();
      if (!body.title || !body.category_name || !body.content.trim()) {
        note(t("Not saved yet: a draft needs a title, a category and some text."));
        return;
      }
      note(t("Saving the draft…"));
      try {
        await save({});
        tagError(null);
        note(t("Draft saved at %(time)s.", { time: localTime(new Date().toISOString()) }));
      } catch (failure) {
        const aboutTags = tagProblem(t, failure);
        tagError(aboutTags);
        note(failure instanceof Failure && failure.status === 401
          ? t("Not saved: your session has ended. Publish or save to log in again; your text is kept.")
          : t("Not saved: %(reason)s", { reason: aboutTags || b.explain(failure)[0] }));
      }
    }

    form.addEventListener("input", (event) => {
      if (event.target && event.target.id === "post-publish-at") return;
      createKey = b.newIdempotencyKey();
      // A public post changes only when its writer says so; a new post or a draft saves itself.
      if (state.status !== "new" && state.status !== "draft") return;
      window.clearTimeout(timer);
      timer = window.setTimeout(autosave, AUTOSAVE_MS);
    });

    function stopAutosave() { window.clearTimeout(timer); timer = null; }

    // A button's work, with the form's way of showing what went wrong; a lapsed session keeps the text for after the login.
    function act(button, work) {
      button.addEventListener("click", async () => {
        if (button.disabled) return;
        button.disabled = true;
        b.clearErrors(form);
        tagError(null);
        try {
          await work();
        } catch (failure) {
          if (failure instanceof Failure && failure.status === 401) { b.keepForLogin(form); b.sendToLogin(b.EXPIRED); return; }
          if (showTagProblem(failure)) return;
          b.showErrors(b.explain(failure, "write"), b.fieldsOf(failure));
        } finally {
          button.disabled = false;
        }
      });
    }

    // A refusal about the tags, shown beside the field that can mend it; false when the refusal is about something else.
    function showTagProblem(failure) {
      const message = tagProblem(t, failure);
      if (message === null) return false;
      tagError(message);
      tagsInput.focus();
      return true;
    }

    const valid = () => b.required(new FormData(form), checks) && tagsValid();

    act(byId("save-draft"), async () => {
      if (!valid()) return;
      stopAutosave();
      await save({});
      note(t("Draft saved at %(time)s.", { time: localTime(new Date().toISOString()) }));
    });

    act(byId("preview-post"), async () => {
      if (!b.required(new FormData(form), [checks[2]])) return;
      const answer = await call("/blog/api/preview", { method: "POST", body: { content: fields().content }, auth: true });
      // The server's HTML, sanitised by the same code as the post's page (rendering.py): never the writer's raw text.
      byId("preview-content").innerHTML = answer.html;
      byId("preview").hidden = false;
      byId("preview-title").focus();
    });

    act(byId("schedule-post"), async () => {
      const chosen = byId("post-publish-at").value;
      const at = chosen ? new Date(chosen) : null;
      if (!at || Number.isNaN(at.getTime()) || at <= new Date()) {
        b.showErrors([t("Please choose a time in the future to publish the post at.")], []);
        byId("post-publish-at").setAttribute("aria-invalid", "true");
        return;
      }
      if (!valid()) return;
      stopAutosave();
      const post = await save({ status: "published", publish_at: at.toISOString() });
      b.flash(t("Your post will be published on %(time)s.", { time: localTime(post.published_at) }));
      window.location.assign(`/blog/authors/${encodeURIComponent(post.author)}`);
    });

    act(byId("publish-now"), async () => {
      if (!valid()) return;
      const post = await save({ status: "published" });
      b.flash(t("Your post is published."));
      window.location.assign(`/blog/posts/${post.id}`);
    });

    act(byId("unpublish-post"), async () => {
      if (!valid()) return;
      await save({ status: "draft" });
      note(t("The post is a draft again: only you can see it."));
      byId("page-title").focus();
    });

    b.onSubmit(form, async (values) => {
      tagError(null);
      if (!b.required(values, checks) || !tagsValid()) return false;
      stopAutosave();
      const wasPublic = state.status === "published" || state.status === "scheduled";
      let post;
      try {
        post = await save(wasPublic ? {} : { status: "published" });
      } catch (failure) {
        if (failure instanceof Failure && failure.status === 401) { b.keepForLogin(form); b.sendToLogin(b.EXPIRED); return true; }
        if (showTagProblem(failure)) return false;
        throw failure;
      }
      b.flash(wasPublic ? t("Your changes are saved.") : t("Your post is published."));
      window.location.assign(state.status === "scheduled" ? `/blog/authors/${encodeURIComponent(post.author)}` : `/blog/posts/${post.id}`);
      return true;
    });

    // /blog/write?draft=ID: the writer's own draft (or scheduled post), read with their token.
    async function loadDraft() {
      const id = new URLSearchParams(window.location.search).get("draft");
      if (form.dataset.mode === "edit" || !id || !/^[1-9][0-9]{0,9}$/.test(id)) return;
      try {
        const post = await call(`/blog/api/me/posts/${id}`, { auth: true });
        if (!restored) {
          for (const [name, value] of [["title", post.title], ["category_name", post.category.name], ["content", post.content],
          ["tags", (post.tags || []).map((tag) => tag.name).join(", ")]]) {
            const input = form.elements.namedItem(name);
            input.value = value;
            input.dispatchEvent(new Event("input", { bubbles: true }));  // the counters
          }
          stopAutosave();  // what was just read needs no saving
        }
        adopt(post);
        note(t("Draft saved at %(time)s.", { time: localTime(post.updated_at) }));
      } catch (failure) {
        b.showErrors(b.explain(failure, "write"), []);
      }
    }

    images(b, text);
    showActions();
    return loadDraft();
  }

  // --- images --------------------------------------------------------------------------
  function images(b, text) {
    const { t, byId } = b;
    const input = byId("image-file");
    const status = byId("upload-status");
    byId("add-image").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      if (input.files && input.files[0]) upload(input.files[0]);
      input.value = "";
    });
    const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
    text.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      text.classList.add("dropping");
    });
    text.addEventListener("dragleave", () => text.classList.remove("dropping"));
    text.addEventListener("drop", (event) => {
      const file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
      text.classList.remove("dropping");
      if (!file) return;
      event.preventDefault();
      upload(file);
    });

    async function upload(file) {
      if (file.size > MAX_IMAGE_BYTES) { status.textContent = tooLarge(); return; }
      status.textContent = t("Uploading %(name)s…", { name: file.name });
      const body = new FormData();
      body.append("file", file, file.name);
      try {
        const image = await b.call("/blog/api/images", { method: "POST", body, auth: true });
        insert(`![${describe(file.name)}](${image.url})`);
        status.textContent = t("The image is in the text. Describe it between the brackets for readers who cannot see it.");
      } catch (failure) {
        status.textContent = refusal(failure);
      }
    }

    function tooLarge() { return t("The image is too large: at most 10 MB and 40 million pixels."); }

    function refusal(failure) {
      const status = failure instanceof b.Failure ? failure.status : -1;
      if (status === 413) return tooLarge();
      if (status === 415) return t("This file is not an image the blog takes. Please send a JPEG, PNG, GIF or WebP.");
      if (status === 422) return t("The image could not be read. It may be damaged.");
      if (status === 401) return t("Your session has ended. Save your text, log in again, then add the image.");
      return b.explain(failure, "upload")[0];
    }

    // A first description from the file's name, for the writer to improve.
    function describe(name) {
      return name.replace(/\.[^.]*$/, "").replace(/[-_]+/g, " ").replace(/[[\]()]/g, "").trim();
    }

    // The image's Markdown at the caret, as a paragraph of its own; the counters and the autosave hear of it.
    function insert(markdown) {
      const start = text.selectionStart ?? text.value.length;
      const end = text.selectionEnd ?? start;
      const before = text.value.slice(0, start);
      const lead = before === "" || before.endsWith("\n\n") ? "" : before.endsWith("\n") ? "\n" : "\n\n";
      text.value = `${before}${lead}${markdown}\n\n${text.value.slice(end)}`;
      const caret = before.length + lead.length + markdown.length;
      text.setSelectionRange(caret, caret);
      text.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  // --- the writer's page: their drafts and scheduled posts, which only they see -----------------
  async function authorPage() {
    const b = helpers();
    const match = window.location.pathname.match(/^\/blog\/authors\/([^/]+)$/);
    if (!match || !b.session.token || decodeURIComponent(match[1]) !== b.session.username) return;
    let drafts;
    let scheduled;
    try {
      [drafts, scheduled] = await Promise.all([b.call("/blog/api/me/drafts?limit=100", { auth: true }),
        b.call("/blog/api/me/scheduled", { auth: true })]);
    } catch (_failure) {
      return;  // the public page stands as it is
    }
    const items = [
      ...scheduled.posts.map((post) => [post, b.t("Scheduled for %(time)s", { time: localTime(post.published_at) })]),
      ...drafts.posts.map((post) => [post, b.t("Draft, saved %(time)s", { time: localTime(post.updated_at) })]),
    ];
    if (!items.length) return;
    const section = b.el("section", { class: "my-drafts", "aria-labelledby": "my-drafts-title" },
      b.el("h2", { id: "my-drafts-title" }, b.t("Your drafts and scheduled posts")),
      b.el("p", { class: "hint" }, b.t("Only you see these.")),
      b.el("ul", {}, ...items.map(([post, when]) => b.el("li", {},
        b.el("a", { href: `/blog/write?draft=${post.id}` }, post.title), " ", b.el("span", { class: "hint" }, when)))));
    b.byId("page-title").after(section);
  }

  window.titaniumWriting = Object.freeze({ writePage, authorPage });
})();
