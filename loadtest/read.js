// One kind of read at a steady number of users: READ=list (the first 20 posts) or READ=post (a random seeded post).
import { constantVus, listPosts, readPost, summaryTrendStats } from "./lib.js";

const read = { list: listPosts, post: readPost }[__ENV.READ];

export const options = { scenarios: { readers: constantVus() }, summaryTrendStats };

export default function () {
  read();
}
