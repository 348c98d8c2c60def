// Creates only, as fast as they go: VUS users, each writing one post after another.
import { constantVus, countCreates, createPost, login, summaryTrendStats } from "./lib.js";

export const options = { scenarios: { writers: constantVus() }, summaryTrendStats, thresholds: countCreates };

export const setup = () => ({ token: login() });

export default function (data) {
  createPost(data.token);
}
