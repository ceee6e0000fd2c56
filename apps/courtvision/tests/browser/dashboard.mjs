// SPDX-License-Identifier: MIT OR Apache-2.0
// Opens the dashboard at URL in headless Chromium and checks it as a user would see it:
// it loads without errors, its charts update, the numbers of the ended stream DONE agree
// with /metrics, and a source added from the page's form comes up live.
//
//   node dashboard.mjs URL DONE
import { chromium } from "playwright-core";

const [url, done] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless=new"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url);

  // Loads: a row and a chart per stream.
  await page.waitForFunction(() => window.cv && cv.samples >= 2 &&
    document.querySelectorAll("#charts canvas").length >= 2, null, { timeout: 30000 });
  if (await page.evaluate(() => typeof uPlot) !== "function") fail("uPlot not loaded");

  // Charts update: points are appended every second.
  const points = () => page.evaluate(() => Math.min(...Object.values(cv.charts).map((c) => c.data[0].length)));
  const before = await points();
  await page.waitForFunction((n) => Math.min(...Object.values(cv.charts).map((c) => c.data[0].length)) >= n + 3,
    before, { timeout: 20000 });

  // Numbers agree with /metrics (the ended stream's do not change any more, once it ended).
  await page.waitForSelector(`tr[data-stream="${done}"] td.state-done`, { timeout: 30000 });
  const metrics = await (await fetch(new URL("/metrics", url))).text();
  const scraped = (name) => {
    const m = metrics.match(new RegExp(`^${name}\\{stream="${done}"\\} (\\S+)$`, "m"));
    if (!m) fail(`${name} for ${done} not in /metrics`);
    return Number(m[1]);
  };
  const cell = (k) => page.textContent(`tr[data-stream="${done}"] td[data-metric="${k}"]`);
  for (const [k, name] of [["frames", "courtvision_stream_frames_total"],
    ["inferred", "courtvision_stream_inferred_total"],
    ["skipped", "courtvision_stream_skipped_total"],
    ["reconnects", "courtvision_stream_reconnects_total"]]) {
    const shown = Number(await cell(k));
    if (shown !== scraped(name)) fail(`${k}: page ${shown}, /metrics ${scraped(name)}`);
  }
  if (scraped("courtvision_stream_frames_total") <= 0) fail("no frames counted");
  const rss = Number(await page.textContent("#rss"));
  if (!(rss > 0)) fail("process memory not shown");

  // Adding a source from the page.
  await page.fill("input[name=uri]", "courtsrc://?seed=11&width=320&height=180");
  await page.fill("input[name=name]", "added");
  await page.click("button[type=submit]");
  await page.waitForSelector("#add-result:has-text('added added')", { timeout: 10000 });
  await page.waitForSelector('tr[data-stream="added"] td.state-live', { timeout: 90000 });
  const chart = await page.$('#charts .chart[data-stream="added"] canvas');
  if (!chart) fail("no chart for the added source");

  if (errors.length) fail("errors in the page: " + errors.join("; "));
  console.log(JSON.stringify({ ok: true, points_before: before, rss_mib: rss }));
} finally {
  await browser.close();
}
