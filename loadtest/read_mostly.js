// A blog's day: mostly reads (lists, posts, categories), a few logins and writes.
// BASE_URL is the gateway (or a service, to measure the gateway's own cost);
// the posts and the account were made by loadtest/run.py beforehand.
import http from "k6/http";
import { check } from "k6";

const BASE_URL = __ENV.BASE_URL || "http://127.0.0.1:8000";
const POST_IDS = JSON.parse(__ENV.POST_IDS || "[1]");
const WRITE_SHARE = Number(__ENV.WRITE_SHARE || "0.02");

export const options = {
  scenarios: {
    readers: {
      executor: "constant-vus",
      vus: Number(__ENV.VUS || "50"),
      duration: __ENV.DURATION || "20s",
    },
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
  thresholds: { http_req_failed: ["rate<0.01"] },
};

export function setup() {
  if (WRITE_SHARE === 0) return { token: null };
  const login = http.post(`${BASE_URL}/api/login`, JSON.stringify({ username: __ENV.USERNAME, password: __ENV.PASSWORD }),
    { headers: { "Content-Type": "application/json" } });
  return { token: login.json("token") };
}

export default function (data) {
  const roll = Math.random();
  let response;
  if (roll < WRITE_SHARE && data.token) {
    response = http.post(`${BASE_URL}/blog/api/posts`,
      JSON.stringify({ title: "load", content: "written under load", category_name: "Load" }),
      { headers: { "Content-Type": "application/json", Authorization: `Bearer ${data.token}` }, tags: { name: "create" } });
    check(response, { "created": (r) => r.status === 201 });
    return;
  }
  if (roll < 0.55) {
    response = http.get(`${BASE_URL}/blog/api/posts?limit=20`, { tags: { name: "list" } });
  } else if (roll < 0.85) {
    const id = POST_IDS[Math.floor(Math.random() * POST_IDS.length)];
    response = http.get(`${BASE_URL}/blog/api/posts/${id}`, { tags: { name: "post" } });
  } else {
    response = http.get(`${BASE_URL}/blog/api/categories`, { tags: { name: "categories" } });
  }
  check(response, { "200": (r) => r.status === 200 });
}
