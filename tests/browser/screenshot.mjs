// screenshot.mjs -- for `make demo`: log in to a running review server and
// save what an operator sees, without deciding anything.
//
// usage: node screenshot.mjs URL OPERATOR PASSWORD OUT_DIR
// Writes OUT_DIR/review-queue.png, review-help.png, review-page-view.png,
// review-groups.png, review-progress.png.
import { chromium } from 'playwright-core';

const [url, name, password, dir] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.setDefaultTimeout(20000);
const kb = page.keyboard;
const settle = () => new Promise((r) => setTimeout(r, 600));
try {
  await page.goto(url);
  await page.waitForSelector('#login-name:visible');
  await page.focus('#login-name');
  await kb.type(name); await kb.press('Tab'); await kb.type(password); await kb.press('Enter');
  await page.waitForSelector('#queue:not([hidden])');
  await settle();
  await kb.press('Escape'); // out of a text field, if the first item is one
  await page.screenshot({ path: dir + '/review-queue.png' });
  await kb.press('?'); await page.waitForSelector('#help:not([hidden])');
  await page.screenshot({ path: dir + '/review-help.png' });
  await kb.press('Escape');
  await kb.press('p'); await settle();
  await page.screenshot({ path: dir + '/review-page-view.png' });
  await kb.press('Escape'); await page.waitForSelector('#queue:not([hidden])');
  await kb.press('Escape'); // the item's text field takes the cursor again
  await kb.press('g'); await settle();
  await page.screenshot({ path: dir + '/review-groups.png' });
  await kb.press('Escape'); await settle();
  await kb.press('Escape');
  await kb.press('o'); await settle();
  await page.screenshot({ path: dir + '/review-progress.png' });
} finally {
  await browser.close();
}
