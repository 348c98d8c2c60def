// VUS users reading the post list through the gateway for DURATION, each
// waiting as long as a refusal's Retry-After asks before trying again (as a
// well-behaved client does); tests/faults/test_overload.py reads the summary.
import http from "k6/http";
import { check, sleep } from "k6";

export const options = {
  vus: Number(__ENV.VUS),
  duration: __ENV.DURATION,
  summaryTrendStats: ["med", "p(95)", "count"],
  // Declared so that the summary has the refusals' own latency (always true).
  thresholds: { "http_req_duration{expected_response:false}": ["max>=0"] },
};

export default function () {
  const answer = http.get(`${__ENV.BASE_URL}/blog/api/posts?limit=50`);
  check(answer, {
    "answered 200 or refused 503": (r) => r.status === 200 || r.status === 503,
    "a refusal says when to retry, in JSON": (r) =>
      r.status !== 503 || (r.headers["Retry-After"] === "1" && r.json("detail") === "the service is at capacity; retry shortly"),
  });
  if (answer.status === 503) {
    sleep(Number(answer.headers["Retry-After"]));
  }
}
