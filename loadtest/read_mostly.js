// A blog's day: mostly reads (lists, posts, categories), a share of writes (WRITE_SHARE) by the account run.py made.
import { constantVus, countCreates, createPost, listCategories, listPosts, login, readPost, summaryTrendStats } from "./lib.js";

const WRITE_SHARE = Number(__ENV.WRITE_SHARE);

export const options = { scenarios: { readers: constantVus() }, summaryTrendStats, thresholds: countCreates };

export const setup = () => ({ token: WRITE_SHARE > 0 ? login() : null });

export default function (data) {
  const roll = Math.random();
  if (roll < WRITE_SHARE) createPost(data.token);
  else if (roll < 0.55) listPosts();
  else if (roll < 0.85) readPost();
  else listCategories();
}
