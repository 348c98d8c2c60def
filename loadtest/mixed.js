// Requests arriving at a constant RATE a second, whatever the answers' speed: 10 % creates, 40 % posts, 50 % lists.
import { countCreates, createPost, listPosts, login, readPost, summaryTrendStats } from "./lib.js";

export const options = {
  scenarios: {
    mixed: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.RATE),
      timeUnit: "1s",
      duration: __ENV.DURATION,
      // Enough for the rate at ~100 ms an answer; more are added, up to maxVUs, when answers are slower.
      preAllocatedVUs: 100,
      maxVUs: 400,
    },
  },
  summaryTrendStats,
  thresholds: countCreates,
};

export const setup = () => ({ token: login() });

export default function (data) {
  const roll = Math.random();
  if (roll < 0.1) createPost(data.token);
  else if (roll < 0.5) readPost();
  else listPosts();
}
