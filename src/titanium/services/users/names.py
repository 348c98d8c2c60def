"""Usernames nobody may register.

A username shows on every post and at /blog/authors/{name}, and readers take
some names as the platform speaking. Reserved, compared lower-cased with
'.', '-' and '_' left out (so "Ad_min" and "no.reply" are refused too):
- who runs the platform, or seems to: admin, root, staff, support, security,
  titanium (the platform's own name)... An account named so could tell
  readers to "verify your password" with authority it does not have;
- role mailboxes (RFC 2142 and common practice: abuse, postmaster,
  webmaster, noreply...), which people read as the site's own;
- the platform's own services and path words (api, www, blog, auth, users,
  gateway, dashboard, me, login, register, feed...): a name beside them in a
  URL is confusable, and "me" is the signed-in user in /api/users/me;
- words that read as nobody (null, undefined, anonymous, deleted...), which
  software and readers take for a missing or removed account.
Accounts made before a name was reserved keep it.
"""

from __future__ import annotations

RESERVED_USERNAMES = frozenset({
    # Who runs the platform.
    "admin", "administrator", "administrators", "root", "sysadmin", "superuser", "staff", "moderator", "moderators",
    "operator", "owner", "support", "help", "helpdesk", "security", "official", "team", "system", "titanium",
    # Role mailboxes.
    "abuse", "postmaster", "hostmaster", "webmaster", "noc", "info", "contact", "noreply", "mailerdaemon",
    # The platform's services and path words.
    "api", "www", "blog", "auth", "users", "user", "gateway", "dashboard", "me", "login", "logout", "register",
    "signup", "signin", "account", "accounts", "settings", "profile", "feed", "static", "internal", "metrics",
    "status", "health", "stats", "realworld",
    # Nobody.
    "null", "none", "nil", "undefined", "anonymous", "guest", "unknown", "deleted", "everyone", "nobody",
})
_SEPARATORS = str.maketrans("", "", "._-")


def is_reserved(username: str) -> bool:
    return username.lower().translate(_SEPARATORS) in RESERVED_USERNAMES
