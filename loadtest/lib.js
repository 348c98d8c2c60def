// What the scripts here share: the seeded posts and account (from run.py), the requests, the steady-users shape.
import http from "k6/http";
import { check } from "k6";

const BASE_URL = __ENV.BASE_URL;
const POST_IDS = JSON.parse(__ENV.POST_IDS);
const JSON_HEADERS = { "Content-Type": "application/json" };

export const summaryTrendStats = ["avg", "med", "p(95)", "p(99)", "max"];

// Declared only so that the summary counts the creates on their own.
export const countCreates = { "http_reqs{name:create}": ["count>=0"] };

export function constantVus() {
  return { executor: "constant-vus", vus: Number(__ENV.VUS), duration: __ENV.DURATION };
}

function get(path, name) {
  const response = http.get(`${BASE_URL}${path}`, { tags: { name } });
  check(response, { "200": (r) => r.status === 200 });
}

export const listPosts = () => get("/blog/api/posts?limit=20", "list");
export const readPost = () => get(`/blog/api/posts/${POST_IDS[Math.floor(Math.random() * POST_IDS.length)]}`, "post");
export const listCategories = () => get("/blog/api/categories", "categories");

export function login() {
  const response = http.post(`${BASE_URL}/api/login`,
    JSON.stringify({ username: __ENV.USERNAME, password: __ENV.PASSWORD }), { headers: JSON_HEADERS });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${response.body}`);
  return response.json("token");
}

export function createPost(token) {
  const response = http.post(`${BASE_URL}/blog/api/posts`,
    JSON.stringify({ title: "load", content: "written under load", category_name: "Load" }),
    // A key on every create, as the web app sends: the blog does each once.
    { headers: { ...JSON_HEADERS, Authorization: `Bearer ${token}`, "Idempotency-Key": `k6-${__VU}-${__ITER}-${Date.now()}` },
      tags: { name: "create" } });
  check(response, { "201": (r) => r.status === 201 });
}
