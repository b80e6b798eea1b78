// review.mjs -- drive the real review page in headless Chromium, keyboard only
// (run by tests/review_browser.sh, which makes the data and checks the store).
//
// usage: node review.mjs URL PASSWORD PICKS_JSON SHOTS_DIR OUT_JSON
//   PICKS_JSON: {"<reason>": item id, ...}, one item of every kind in the store,
//   chosen by the shell script; the harness opens each (the operator's choice of
//   item is not what is tested), the decisions are made with keys only.
// Writes OUT_JSON: {decided: [{id, value}], undone: {id, first, final},
// group: [{id, value}], keys, resolved, errors}.
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const [url, password, picksJson, shots, outPath] = process.argv.slice(2);
const picks = JSON.parse(picksJson);
const out = { decided: [], undone: null, group: [], keys: 0, resolved: 0, errors: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.setDefaultTimeout(20000);
page.on('pageerror', (e) => out.errors.push('page error: ' + e));
// the page asks /api/me before login and gets 401: that one is expected
page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) out.errors.push('console: ' + m.text()); });
const kb = page.keyboard;

const item = () => page.evaluate(() => window.omrStats.item);
// page.waitForFunction compiles its predicate with eval, which the page's CSP
// (script-src 'self') rightly refuses: poll with evaluate instead.
async function until(fn, arg, what) {
  const end = Date.now() + 20000;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + (what || fn.toString()));
    await new Promise((r) => setTimeout(r, 40));
  }
}
async function waitItemChange(prevId) {
  await until((p) => window.omrStats.item === null || (window.omrStats.item && window.omrStats.item.id !== p && !window.omrStats.busy), prevId);
}
async function waitImage() {
  await until(() => { const i = document.getElementById('crop'); return i.hidden || (i.complete && i.naturalWidth > 0); });
}

async function intoField() {
  if (!(await page.evaluate(() => document.activeElement && document.activeElement.id === 'entry-input'))) await kb.press('i');
  await until(() => document.activeElement && document.activeElement.id === 'entry-input', undefined, 'the entry field');
}

// Decide the item on screen by keys; returns the value the keys mean.
async function decide(it, opts = {}) {
  let value;
  if (it.allow_na && opts.keep) {
    // routing: one key keeps the answer as read and records it
    if (opts.shot) { await waitImage(); await page.screenshot({ path: shots + '/' + opts.shot + '.png' }); }
    await kb.press('k');
    await waitItemChange(it.id);
    out.decided.push({ id: it.id, value: it.proposal, reason: it.reason, input: it.input });
    return it.proposal;
  }
  if (it.input === 'missing') {
    await kb.press('m'); value = 'missing';
    if (opts.shot) { await page.screenshot({ path: shots + '/' + opts.shot + '.png' }); }
    await kb.press('Enter');
    await waitItemChange(it.id);
    out.decided.push({ id: it.id, value, reason: it.reason, input: it.input });
    return value;
  }
  if (['digits', 'list', 'text', 'number'].includes(it.input)) await intoField();
  if (it.input === 'choice' || it.input === 'set') {
    if (opts.digit !== undefined) { await kb.press(String(opts.digit)); value = String(opts.digit); }
    else if (it.input === 'choice' && (it.proposal === '' || !it.options.some((o) => String(o.code) === it.proposal) && it.proposal !== '-1')) {
      const c = String(it.options[0].code); for (const ch of c) await kb.press(ch); value = c;
      if (it.options.some((o) => String(o.code) !== c && String(o.code).startsWith(c))) await new Promise((r) => setTimeout(r, 800));
    }
    else value = it.proposal;
  } else if (it.input === 'digits') {
    const c = String(it.options[0].code); await kb.type(c); value = c;
  } else if (it.input === 'number') {
    // typed with a space, as operators do ("1 2"): the page sends the digits
    const typed = it.boxes >= 2 ? '1 2' : '1';
    await kb.press('Control+a'); await kb.type(typed); value = typed.replace(/\s/g, '');
  } else if (it.input === 'list') {
    await kb.press('Control+a'); await kb.press('Backspace'); value = '';
  } else if (it.input === 'text') {
    if (it.hint) { await kb.press('Control+a'); await kb.press('Backspace'); value = ''; }
    else { await kb.press('Control+a'); await kb.type('テスト転記 ' + it.id); value = 'テスト転記 ' + it.id; }
  } else if (it.input === 'page') {
    if (opts.assign) { await kb.press('a'); await page.waitForSelector('#entry-input:focus'); await kb.press('Control+a'); await kb.type(opts.assign.typed); value = opts.assign.value; }
    else { await kb.press('r'); value = 'reject'; }
  } else if (it.input === 'dup') {
    await kb.press('d'); value = 'duplicate';
  }
  if (opts.shot) { await waitImage(); await page.screenshot({ path: shots + '/' + opts.shot + '.png' }); }
  await kb.press('Enter');
  await waitItemChange(it.id);
  out.decided.push({ id: it.id, value, reason: it.reason, input: it.input });
  return value;
}

// Undo: the first choice item decided comes back with u, and is decided again differently.
async function maybeUndo(it) {
  if (out.undone || it.input !== 'choice' || it.options.length < 2) return;
  const first = out.decided[out.decided.length - 1].value;
  await kb.press('Escape'); // the next item may be a text field with the cursor in it
  await kb.press('u');
  await until((id) => window.omrStats.item && window.omrStats.item.id === id && window.omrStats.item.state === 'leased', it.id);
  const other = it.options.map((o) => String(o.code)).find((c) => c !== first && c.length === 1);
  await kb.press(other);
  await kb.press('Enter');
  await waitItemChange(it.id);
  out.decided.pop();
  out.decided.push({ id: it.id, value: other, reason: it.reason, input: it.input });
  out.undone = { id: it.id, first, final: other };
}

async function open(id) {
  // the harness picks the item; everything after is keys
  await page.evaluate(async (i) => { const r = await api('POST', '/api/lease', { item: i }); showItem(r.item, false); }, id);
  await until((i) => window.omrStats.item && window.omrStats.item.id === i, id);
  return item();
}

try {
  await page.goto(url);
  await page.waitForSelector('#login-name:visible');
  await page.focus('#login-name');
  await kb.type('alice'); await kb.press('Tab'); await kb.type(password); await kb.press('Enter');
  await page.waitForSelector('#queue:not([hidden])');
  await until(() => window.omrStats.item !== undefined && window.omrStats.op === 'alice');

  // help overlay (Esc first: the first item may be a text field with the cursor in it)
  // (the item may still be loading and take the focus back into its field
  // after Esc: press again, as a person would, a few times at most)
  for (let attempt = 1; ; attempt++) {
    await kb.press('Escape');
    await kb.press('?');
    try { await page.waitForSelector('#help:not([hidden])', { timeout: 4000 }); break; }
    catch (e) { if (attempt >= 5) throw e; }
  }
  await page.screenshot({ path: shots + '/help.png' });
  await kb.press('Escape');

  // 1. the queue as it comes: a few items, proposal accepted or typed
  for (let i = 0; i < 6; i++) {
    const it = await item();
    if (!it) break;
    await decide(it, i === 0 ? { shot: 'queue-first' } : {});
    await maybeUndo(it);
  }

  // 2. one item of every kind in the store
  for (const [reason, id] of Object.entries(picks)) {
    if (out.decided.some((d) => d.id === id)) continue;
    const it = await open(id);
    const o = {};
    if (reason === 'doubtful_mark') o.shot = 'queue';
    if (reason === 'handwritten') o.shot = 'queue-handwritten';
    if (reason === 'text') o.shot = 'queue-text';
    if (reason === 'no_barcode') { o.shot = 'queue-page-item'; o.assign = { typed: 'A 1 000777', value: 'assign:A:1:000777' }; }
    if (reason === 'duplicate_page') o.shot = 'queue-duplicate';
    if (reason === 'routing') { o.shot = 'queue-routing'; o.keep = true; }
    if (reason === 'missing_page') o.shot = 'queue-missing-page';
    if (reason === 'multiple_marks') o.shot = 'queue-multiple';
    if (reason === 'doubtful_mark' && it.input === 'choice' && it.options.length) {
      // page view of this item first, then decide it by a typed digit
      await kb.press('p');
      await page.waitForSelector('#page-svg polygon', { state: 'attached' });
      await until(() => document.getElementById('page-img').complete);
      await page.screenshot({ path: shots + '/page-view.png' });
      await kb.press('Escape');
      await page.waitForSelector('#queue:not([hidden])');
    }
    await decide(it, o);
    await maybeUndo(it);
  }

  // 4. group review: the first group, every tile as proposed, one Enter
  await kb.press('Escape'); // out of a text field, if the cursor is in one
  await kb.press('g');
  await page.waitForSelector('#group-list table, #group-list p');
  await page.screenshot({ path: shots + '/group-list.png' });
  const hasGroup = await page.evaluate(() => window.omrStats.groupList.length > 0);
  if (hasGroup) {
    await kb.press('Enter');
    await page.waitForSelector('#tiles .tile');
    await until(() => [...document.querySelectorAll('#tiles img')].every((i) => i.complete));
    await kb.press('ArrowRight');
    const tiles = await page.evaluate(() => window.omrStats.tiles.map((t) => ({ id: t.it.id, value: t.value, options: (t.it.options || []).map((o) => String(o.code)) })));
    await page.screenshot({ path: shots + '/group-review.png' });
    const before = await page.evaluate(() => window.omrStats.resolved);
    await kb.press('Enter');
    await until((b) => window.omrStats.resolved > b, before);
    await until(() => window.omrStats.group === null && !document.getElementById('group-list').hidden && !window.omrStats.busy);
    out.group = tiles.map((t) => ({ id: t.id, value: t.value }));
  } else out.errors.push('no group to review');

  // 5. progress
  await kb.press('Escape');
  await page.waitForSelector('#queue:not([hidden])');
  await until(() => !window.omrStats.busy && document.activeElement === document.getElementById('entry-input') || document.getElementById('entry').hidden);
  await kb.press('Escape'); // the next item may be a text field with the cursor in it
  await kb.press('o');
  await page.waitForSelector('#ov-reason tr');
  await page.screenshot({ path: shots + '/progress.png' });
  await kb.press('q');

  out.keys = await page.evaluate(() => window.omrStats.keys);
  out.resolved = await page.evaluate(() => window.omrStats.resolved);
} catch (e) {
  out.errors.push('driver: ' + (e && e.stack ? e.stack : e));
  try { out.errors.push('toast: ' + await page.evaluate(() => document.getElementById('toast').textContent)); } catch (e2) { /* none */ }
  try { await page.screenshot({ path: shots + '/failure.png' }); } catch (e2) { /* nothing more to show */ }
}
await browser.close();
writeFileSync(outPath, JSON.stringify(out, null, 1));
