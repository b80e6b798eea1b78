// keys.mjs -- the review page's keys where they used to go wrong (run by
// tests/review_browser.sh on a store of its own, with a few items made for
// it: see SETUP below). Keyboard only, as an operator works; the harness
// only opens the item to work on (as review.mjs does) and reads the
// decisions back from the server.
//
// usage: node keys.mjs URL PASSWORD SETUP_JSON OUT_JSON
//   SETUP_JSON: {set_item: ID, set_group: [ID, ID], text_group: [ID, ID],
//                text_item: ID, digits_item: ID}
//     set_item    a question with 12 options, several allowed (input "set"), proposal "2"
//     set_group   two such items of one question (a group), proposal "2" each
//     text_group  two items of one question that take typed text (a grid's
//                 "row:column" list), under a reason that is not "text"
//     text_group_real  a group of transcriptions (reason text) as /api/groups
//                 lists it: added to its reply when the server leaves it out
//                 (the page must leave such groups out by itself)
//     text_item   a transcription (reason text); digits_item a written box
// Writes OUT_JSON: {checks: [{name, ok, why}], errors: [...]}.
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const [url, password, setupJson, outPath] = process.argv.slice(2);
const setup = JSON.parse(setupJson);
const out = { checks: [], errors: [] };
const check = (name, ok, why) => out.checks.push({ name, ok: !!ok, why: ok ? '' : String(why) });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.setDefaultTimeout(20000);
page.on('pageerror', (e) => out.errors.push('page error: ' + e));
// /api/me before login is a 401; a refused decision is a 4xx the page shows: expected
page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) out.errors.push('console: ' + m.text()); });
const kb = page.keyboard;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// page.waitForFunction compiles its predicate with eval, which the page's CSP
// refuses: poll with evaluate instead. Returns false on timeout.
async function until(fn, arg, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await page.evaluate(fn, arg)) return true;
    if (Date.now() > end) return false;
    await sleep(40);
  }
}
const S = (expr) => page.evaluate(expr);
// the live decision on an item, as the server has it ('-' when none, '404' when the item is gone)
const decision = (id) => page.evaluate(async (i) => {
  try { const r = await api('GET', '/api/item/' + i); return r.item.decision ? r.item.decision.after : '-'; }
  catch (e) { return /no review item/.test(e.message) ? '404' : 'error: ' + e.message; }
}, id);
async function open(id) { // the harness picks the item; everything after is keys
  await page.evaluate(async (i) => { const r = await api('POST', '/api/lease', { item: i }); showItem(r.item, false); }, id);
  await until((i) => window.omrStats.item && window.omrStats.item.id === i, id);
}
async function leaveField() {
  await until(() => document.activeElement && document.activeElement.id === 'entry-input', undefined, 3000);
  await kb.press('Escape');
  await until(() => document.activeElement === document.body, undefined, 3000);
}
// move the cursor of the group list to the group (by keys)
async function toGroup(want) {
  const [idx, cur] = await page.evaluate((w) => [window.omrStats.groupList.findIndex((g) => Object.keys(w).every((k) => g[k] === w[k])),
    window.omrStats.groupCursor], want);
  if (idx < 0) return false;
  for (let i = cur; i < idx; i++) await kb.press('ArrowDown');
  for (let i = cur; i > idx; i--) await kb.press('ArrowUp');
  return true;
}

try {
  await page.goto(url);
  await page.waitForSelector('#login-name:visible');
  await page.focus('#login-name');
  await kb.type('alice'); await kb.press('Tab'); await kb.type(password); await kb.press('Enter');
  await page.waitForSelector('#queue:not([hidden])');
  await until(() => window.omrStats.item !== undefined && window.omrStats.op === 'alice' && !window.omrStats.busy);
  await sleep(200);
  await kb.press('Escape'); // the first item may be a text field with the cursor in it

  // ---- 2. group review: no group of transcriptions is bulk-accepted ----
  // a server that lists groups of transcriptions (as servers before did)
  await page.route('**/api/groups', async (route) => {
    const r = await route.fetch(), j = await r.json();
    const g = setup.text_group_real;
    if (!j.groups.some((x) => x.reason === g.reason && x.form === g.form && x.question === g.question && x.var === g.var)) j.groups.push(g);
    await route.fulfill({ response: r, json: j });
  });
  await kb.press('g');
  await page.waitForSelector('#group-list table, #group-list p');
  const listed = await S(() => window.omrStats.groupList);
  const textListed = listed.filter((g) => g.reason === 'text' || g.reason === 'other_text');
  check('group review: groups of transcriptions are not offered',
    !textListed.length, textListed.length + ' listed: ' + textListed.map((g) => g.label + ' ' + g.var).join(', '));
  // a group whose items take typed text under another reason: refused when opened
  if (!(await toGroup({ form: 'A', question: 'Q8', var: '', reason: 'invalid_value' }))) {
    check('group review: a group of items that take typed text is refused, nothing recorded', false, 'the group is not listed');
  } else {
    await kb.press('Enter');
    await until(() => window.omrStats.group !== null || !document.getElementById('toast').hidden, undefined, 5000);
    const opened = await S(() => window.omrStats.group !== null);
    const before = await S(() => window.omrStats.resolved);
    await kb.press('Enter'); // an operator would: "Enter accepts ALL tiles"
    await until((b) => window.omrStats.resolved > b, before, 2000);
    await until(() => !window.omrStats.busy && window.omrStats.group === null && !document.getElementById('group-list').hidden, undefined, 5000);
    const d = [await decision(setup.text_group[0]), await decision(setup.text_group[1])];
    const toast = await S(() => document.getElementById('toast').textContent);
    check('group review: a group of items that take typed text is refused, nothing recorded',
      !opened && d.every((v) => v === '-'), 'opened: ' + opened + ', decisions ' + JSON.stringify(d) + ', toast: ' + toast);
  }

  // ---- 5. group review: two-digit codes, and a set's tiles toggle ----
  await until(() => !window.omrStats.busy && !document.getElementById('group-list').hidden && window.omrStats.groupList.length > 0, undefined, 5000);
  if (!(await toGroup({ form: 'A', question: 'Q12', var: '' }))) {
    check('group review: tiles take two-digit codes and toggle options of a set', false, 'the group is not listed');
  } else {
    await kb.press('Enter');
    await page.waitForSelector('#tiles .tile');
    const ids = await S(() => window.omrStats.tiles.map((t) => t.it.id));
    // tile 1: 1 1 (code 11) and 3; tile 2: 1 and Enter at once (the 1 counts: 10, 11 and 12 begin with it)
    await kb.press('1'); await kb.press('1'); await kb.press('3');
    await kb.press('ArrowRight');
    await kb.press('1'); await kb.press('Enter');
    await until(() => window.omrStats.group === null && !window.omrStats.busy, undefined, 5000);
    await sleep(300);
    const got = [await decision(ids[0]), await decision(ids[1])];
    check('group review: tiles take two-digit codes and toggle options of a set',
      ids.length === 2 && got[0] === '2,3,11' && got[1] === '1,2', 'tiles ' + JSON.stringify(ids) + ' recorded ' + JSON.stringify(got) + ', meant ["2,3,11","1,2"]');
  }

  // ---- 1. a digit that may begin a two-digit code, then Enter at once ----
  await kb.press('Escape'); await kb.press('q');
  await page.waitForSelector('#queue:not([hidden])');
  await until(() => !window.omrStats.busy);
  await open(setup.set_item);
  await sleep(100);
  await kb.press('1'); await kb.press('Enter');
  await until((i) => window.omrStats.item === null || window.omrStats.item.id !== i, setup.set_item);
  const next = await S(() => window.omrStats.item && { id: window.omrStats.item.id, value: window.omrStats.value });
  await sleep(900); // past the 650 ms of the digit
  const later = await S(() => window.omrStats.item && { id: window.omrStats.item.id, value: window.omrStats.value });
  const got1 = await decision(setup.set_item);
  check('two-digit codes: a digit then Enter at once records the digit (set of 12 options)', got1 === '1,2', 'recorded ' + JSON.stringify(got1) + ', meant "1,2"');
  check('two-digit codes: the digit does not reach the next item',
    next && later && next.id === later.id && next.value === later.value, 'next item ' + JSON.stringify(next) + ', 0.9 s later ' + JSON.stringify(later));

  // ---- 4. undo of an item re-coding no longer raises: the queue goes on ----
  await kb.press('Escape'); // the next item may be a text field with the cursor in it
  await kb.press('u');
  await until(() => !document.getElementById('toast').hidden && /undone/.test(document.getElementById('toast').textContent), undefined, 5000);
  await until(() => window.omrStats.item !== null && !window.omrStats.busy, undefined, 5000);
  const gone = await decision(setup.set_item);
  const afterUndo = await S(() => ({ item: window.omrStats.item && window.omrStats.item.id, empty: !document.getElementById('empty').hidden,
    head: document.getElementById('empty-head') ? document.getElementById('empty-head').textContent : document.querySelector('#empty h2').textContent }));
  check('undo: an item no longer raised after the undo gives way to the next item, not "queue empty"',
    gone === '404' || gone === '-' ? afterUndo.item !== null && !afterUndo.empty : false,
    'undone item now: ' + gone + ', screen: ' + JSON.stringify(afterUndo));
  // no item on screen while items are left (say they were held by another operator): → and Enter ask again
  for (const key of ['ArrowRight', 'Enter']) {
    await page.evaluate(() => { showItem(null, false); refreshLeft(); });
    await until(() => window.omrStats.left === undefined || window.omrStats.left > 0, undefined, 3000);
    await kb.press(key);
    const ok = await until(() => window.omrStats.item !== null && !window.omrStats.busy, undefined, 5000);
    check('no item on screen, items left: ' + (key === 'Enter' ? 'Enter' : '→') + ' asks for the next item', ok,
      'still no item: ' + await S(() => document.getElementById('empty').textContent.replace(/\s+/g, ' ')));
  }

  // ---- 3. a transcription: "Enter will record" follows the field; x clears ----
  await kb.press('Escape');
  await open(setup.text_item);
  await until(() => document.activeElement && document.activeElement.id === 'entry-input', undefined, 3000);
  await kb.press('Control+a'); await kb.type('かな abc');
  const shown = await S(() => document.querySelector('#current .v').textContent);
  check('text item: "Enter will record" follows the field as it is typed', shown === 'かな abc', 'shows ' + JSON.stringify(shown));
  await kb.press('Escape'); await kb.press('x');
  const cleared = await S(() => [document.getElementById('entry-input').value, document.querySelector('#current .v').textContent]);
  await kb.press('Enter');
  await until((i) => window.omrStats.item === null || window.omrStats.item.id !== i, setup.text_item);
  const got3 = await decision(setup.text_item);
  check('text item: x outside the field clears it, Enter records no answer', got3 === '' && cleared[0] === '' && cleared[1] === 'no answer',
    'after x: field ' + JSON.stringify(cleared[0]) + ', shown ' + JSON.stringify(cleared[1]) + '; recorded ' + JSON.stringify(got3));
  // a written box: the same
  await kb.press('Escape');
  await open(setup.digits_item);
  await leaveField();
  await kb.press('x'); await kb.press('Enter');
  await until((i) => window.omrStats.item === null || window.omrStats.item.id !== i, setup.digits_item);
  const got4 = await decision(setup.digits_item);
  check('written box: x outside the field clears it, Enter records no answer', got4 === '', 'recorded ' + JSON.stringify(got4));
} catch (e) {
  out.errors.push('driver: ' + (e && e.stack ? e.stack : e));
  try { out.errors.push('toast: ' + await page.evaluate(() => document.getElementById('toast').textContent)); } catch (e2) { /* none */ }
}
await browser.close();
writeFileSync(outPath, JSON.stringify(out, null, 1));
