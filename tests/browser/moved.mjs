// moved.mjs -- the review page when the scans were moved after the scan
// (run by tests/review_browser.sh). Logs in, opens item ITEM (one with a
// page, chosen by the script) and writes what its crop area shows:
//   {shown: "image" | "error" | "nothing", text: the message shown, errors: [...]}
//
// usage: node moved.mjs URL PASSWORD ITEM OUT_JSON
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const [url, password, itemArg, outPath] = process.argv.slice(2);
const itemId = Number(itemArg);
const out = { shown: 'nothing', text: '', errors: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
page.on('pageerror', (e) => out.errors.push('page error: ' + e));
// a missing image is a 404 the browser logs: expected here, as is /api/me's 401
page.on('console', (m) => { if (m.type() === 'error' && !/status of (401|404)/.test(m.text())) out.errors.push('console: ' + m.text()); });
try {
  await page.goto(url);
  await page.waitForSelector('#login-name:visible');
  await page.focus('#login-name');
  await page.keyboard.type('alice'); await page.keyboard.press('Tab');
  await page.keyboard.type(password); await page.keyboard.press('Enter');
  await page.waitForSelector('#queue:not([hidden])');
  await page.evaluate(async (i) => { const r = await api('POST', '/api/lease', { item: i }); showItem(r.item, false); }, itemId);
  const end = Date.now() + 20000;
  while (Date.now() < end) {
    const r = await page.evaluate((i) => {
      if (!window.omrStats.item || window.omrStats.item.id !== i) return null;
      const img = document.getElementById('crop'), err = document.getElementById('crop-error');
      if (!err.hidden) return { shown: 'error', text: err.textContent };
      if (!img.hidden && img.complete && img.naturalWidth > 0) return { shown: 'image', text: '' };
      return null;
    }, itemId);
    if (r) { Object.assign(out, r); break; }
    await new Promise((res) => setTimeout(res, 50));
  }
} catch (e) {
  out.errors.push(String(e));
}
await browser.close();
writeFileSync(outPath, JSON.stringify(out));
