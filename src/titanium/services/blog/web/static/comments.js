// A post's comment form and delete buttons. The comments are on the page without this script (rendered
// by the server); it adds what needs an account, over the comments API, with blog.js's session, calls
// and words (window.titaniumBlog). After a change the page is loaded again: the server draws the list.
// Text from people goes into the page as text, never as markup.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const blog = window.titaniumBlog;
  const section = document.getElementById("comments");
  if (!blog || !section) return;
  const { call, t, session, Failure, explain, newIdempotencyKey, sendToLogin, EXPIRED } = blog;
  const path = `/blog/api/posts/${section.dataset.postId}/comments`;
  const byId = (id) => document.getElementById(id);

  function explainComment(failure) {
    const status = failure instanceof Failure ? failure.status : -1;
    if (status === 403) return t("Only the comment's writer or the post's author may delete it.");
    if (status === 404) return t("This comment or its post does not exist any more. Please reload the page.");
    if (status === 422) return t("A comment needs 1 to 5000 characters, and not only spaces.");
    if (status === 503) return t("Comments cannot be posted right now. Nothing was lost: please try again in a moment.");
    return explain(failure, "comment")[0];
  }

  function showError(message) {
    const box = byId("comment-errors");
    box.replaceChildren(Object.assign(document.createElement("p"), { textContent: message }));
    box.hidden = false;
    box.focus();
  }

  // The page again, scrolled to `anchor` (and focused there: see focusAnchor).
  function reloadAt(anchor) {
    window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}#${anchor}`);
    window.location.reload();
  }

  function focusAnchor() {
    const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (target && (target.classList.contains("comment") || target === section)) {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  function commentForm() {
    const form = byId("comment-form");
    if (!form) return;
    byId("comment-login").hidden = true;
    form.hidden = false;
    const text = form.elements.body;
    let sending = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (sending) return;
      byId("comment-errors").hidden = true;
      text.removeAttribute("aria-invalid");
      if (!text.value.trim()) {
        text.setAttribute("aria-invalid", "true");
        showError(t("Please write your comment first."));
        return;
      }
      sending = true;
      byId("comment-submit").disabled = true;
      byId("comment-busy").hidden = false;
      try {
        const comment = await call(path, { method: "POST", body: { body: text.value }, auth: true,
          idempotencyKey: newIdempotencyKey() });
        reloadAt(`comment-${comment.id}`);
        return;
      } catch (failure) {
        if (failure instanceof Failure && failure.status === 401) { sendToLogin(EXPIRED); return; }
        if (failure instanceof Failure && failure.status === 422) text.setAttribute("aria-invalid", "true");
        showError(explainComment(failure));
      }
      sending = false;
      byId("comment-submit").disabled = false;
      byId("comment-busy").hidden = true;
    });
  }

  function deleteButtons() {
    const template = byId("comment-delete-template");
    if (!template) return;
    for (const item of section.querySelectorAll(".comment")) {
      if (item.dataset.author !== session.username && section.dataset.postAuthor !== session.username) continue;
      const button = template.content.firstElementChild.cloneNode(true);
      item.append(button);
      button.addEventListener("click", async () => {
        if (!window.confirm(t("Delete this comment? This cannot be undone."))) return;
        button.disabled = true;
        try {
          await call(`${path}/${item.dataset.commentId}`, { method: "DELETE", auth: true, idempotencyKey: newIdempotencyKey() });
          reloadAt("comments");
          return;
        } catch (failure) {
          if (failure instanceof Failure && failure.status === 401) { sendToLogin(EXPIRED); return; }
          showError(explainComment(failure));
        }
        button.disabled = false;
      });
    }
  }

  if (session.token) {
    commentForm();
    deleteButtons();
  }
  focusAnchor();
});
