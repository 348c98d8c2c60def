// Swagger UI on the platform's API document: a file, not an inline script, so the page's
// Content-Security-Policy needs no 'unsafe-inline' (services/gateway/api_document.py).
"use strict";
window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  // A deep link is an anchor inside each operation's button: nested controls a screen reader cannot reach.
  deepLinking: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  // The access token a writer pastes stays for this tab only, never in storage.
  persistAuthorization: false,
  // Lists and posts are long: open the operations one at a time.
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  tryItOutEnabled: false,
});
