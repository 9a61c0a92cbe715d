// Drives GET / of a running vecscale server in Debian's chromium (playwright-core): types a
// query, submits, waits for results, checks that the expected text is among them with a
// score and that latency and collection stats are shown, and saves a screenshot.
// usage: node search_page.mjs URL SCREENSHOT QUERY EXPECTED_TEXT
import { chromium } from "playwright-core";

const [url, shot, query, expected] = process.argv.slice(2);
if (!expected) {
  console.error("usage: node search_page.mjs URL SCREENSHOT QUERY EXPECTED_TEXT");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  timeout: 60000,
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.setDefaultTimeout(30000);
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => /vectors, dimension/.test(document.getElementById("stats").textContent));
  const stats = await page.textContent("#stats");
  await page.fill("#q", query);
  await page.click("#go");
  await page.waitForSelector("li.result");
  const results = await page.$$eval("li.result", (lis) => lis.map((li) => ({
    score: li.querySelector(".score").textContent, text: li.querySelector(".text").textContent })));
  const meta = await page.textContent("#meta");
  await page.screenshot({ path: shot, fullPage: true });
  console.log("stats:", stats);
  console.log("meta:", meta);
  for (const r of results) console.log("  ", r.score, r.text);
  const check = (ok, what) => { if (!ok) { console.error("FAIL:", what); failed = true; } };
  check(results.length > 0, "no results shown");
  check(results.some((r) => r.text.includes(expected)), `no result contains "${expected}"`);
  check(results.every((r) => /^-?\d+\.\d{4}$/.test(r.score)), "a score is not a number");
  check(/results, server \d+\.\d+ ms/.test(meta), "latency not shown");
  // A query with no word the model knows: no results, and the server's warning shown.
  await page.fill("#q", "qqxqzzq zzqxv");
  await page.click("#go");
  await page.waitForFunction(() => /knows none/.test(document.getElementById("error").textContent));
  const warned = await page.textContent("#error");
  console.log("warning:", warned);
  check((await page.$$("li.result")).length === 0, "results shown for a query with no known word");
  check(/^0 results/.test(await page.textContent("#meta")), "result count not 0 for a query with no known word");
  check(consoleErrors.length === 0, "console errors: " + consoleErrors.join("; "));
  console.log("screenshot:", shot);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
