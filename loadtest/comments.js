// Comments only, as fast as they go: VUS users (one account, run.py's), each commenting on a random seeded post.
import http from "k6/http";
import { check } from "k6";
import { constantVus, countCreates, login, summaryTrendStats } from "./lib.js";

const BASE_URL = __ENV.BASE_URL;
const POST_IDS = JSON.parse(__ENV.POST_IDS);

export const options = { scenarios: { writers: constantVus() }, summaryTrendStats, thresholds: countCreates };

export const setup = () => ({ token: login() });

export default function (data) {
  const post = POST_IDS[Math.floor(Math.random() * POST_IDS.length)];
  const response = http.post(`${BASE_URL}/blog/api/posts/${post}/comments`,
    JSON.stringify({ body: "A comment written under **load**." }),
    { headers: { "Content-Type": "application/json", Authorization: `Bearer ${data.token}`,
                 "Idempotency-Key": `k6-comment-${__VU}-${__ITER}-${Date.now()}` },
      tags: { name: "create" } });
  check(response, { "201": (r) => r.status === 201 });
}
