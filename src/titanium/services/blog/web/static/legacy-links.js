// The blog's old single-page links lead to the pages that replaced them: the seed's app
// routed #/, #/posts/new, #/posts/{id} and #/posts/{id}/edit (and earlier #/new, #/login,
// #/register, #/?category=...). Loaded by the list page only, where /blog/#/... arrives.
"use strict";
(function () {
  const hash = window.location.hash;
  if (!hash.startsWith("#/")) return;
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  let target = null;
  let match;
  if (path === "/posts/new" || path === "/posts/new/") target = "/blog/write";
  else if ((match = path.match(/^\/posts\/(\d+)\/edit\/?$/))) target = `/blog/posts/${match[1]}/edit`;
  else if ((match = path.match(/^\/posts\/(\d+)\/?$/))) target = `/blog/posts/${match[1]}`;
  else if (path === "/new") target = "/blog/write";
  else if (path === "/login") target = "/blog/login";
  else if (path === "/register") target = "/blog/register";
  else if (path === "/" && params.get("category")) target = `/blog/categories/${encodeURIComponent(params.get("category"))}`;
  else if (path === "/") target = "/blog/";
  if (target) window.location.replace(target);
})();
