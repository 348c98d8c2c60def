// Reads of PATHS (a JSON list), one picked at random per request; "{id}" in a path becomes a random post id
// from 1 to POST_ID_MAX, so reads at size spread over every post (the cache holds few of them).
import http from "k6/http";
import { check } from "k6";
import { constantVus, summaryTrendStats } from "./lib.js";

const BASE_URL = __ENV.BASE_URL;
const PATHS = JSON.parse(__ENV.PATHS);
const POST_ID_MAX = Number(__ENV.POST_ID_MAX || "1");

export const options = { scenarios: { readers: constantVus() }, summaryTrendStats };

export default function () {
  const template = PATHS[Math.floor(Math.random() * PATHS.length)];
  const path = template.replace("{id}", String(1 + Math.floor(Math.random() * POST_ID_MAX)));
  const response = http.get(`${BASE_URL}${path}`, { tags: { name: template } });
  check(response, { "200": (r) => r.status === 200 });
}
