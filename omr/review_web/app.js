// omr review: the browser side of the review queue (served by omr/review_http.c).
// Everything is done by keyboard; the mouse is never needed. State lives on the
// server (leases, decisions); this page only shows one item, group or page.
'use strict';

const $ = (id) => document.getElementById(id);
const S = {
  csrf: '', op: '', mode: 'login',
  item: null,          // the item on screen
  readonly: false,     // showing a decided item (from history)
  value: '',           // the value that Enter will submit
  cursor: 0,           // option under the arrow keys
  buf: '', bufTimer: 0, bufApply: null, // a digit that may begin a two-digit code (typeDigit)
  pageAction: '',      // page-level: 'duplicate', 'reject', 'case', 'assign'
  cands: null, candCursor: 0, // missing page: the unidentified pages to pick from
  group: null, tiles: [], tileCursor: 0, groupList: [], groupCursor: 0, groupsLeftOut: 0,
  tileBuf: '', tileBufAt: -1, tileTimer: 0, tileApply: null, // the same for a tile (tileDigit)
  left: -1,            // items left, as the progress said last (-1: not known yet)
  keys: 0, resolved: 0, // keystrokes and resolved items (shown in progress)
  busy: false,
};
window.omrStats = S;   // the browser test reads keystrokes per item from here

async function api(method, url, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method === 'POST') {
    opt.headers['Content-Type'] = 'application/json';
    opt.headers['X-CSRF-Token'] = S.csrf;
    opt.body = JSON.stringify(body || {});
  }
  const r = await fetch(url, opt);
  let j = {};
  try { j = await r.json(); } catch (e) { j = { error: 'bad reply' }; }
  if (r.status === 401 && url !== '/api/login') { showLogin(); throw new Error(j.error || 'not logged in'); }
  if (!r.ok) { const e = new Error(j.error || ('HTTP ' + r.status)); e.reply = j; throw e; }
  return j;
}

function toast(msg, bad) {
  const t = $('toast');
  t.textContent = msg; t.className = bad ? 'bad' : ''; t.hidden = false;
  clearTimeout(toast.t); toast.t = setTimeout(() => { t.hidden = true; }, bad ? 4000 : 1200);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setMode(m) {
  S.mode = m;
  for (const s of ['login', 'queue', 'groups', 'page', 'overview']) $(s).hidden = s !== m;
  for (const t of document.querySelectorAll('.tab')) t.classList.toggle('on', t.dataset.mode === m);
  $('tabs').hidden = m === 'login';
}

// ---- login ----

function showLogin() {
  setMode('login');
  $('login-name').focus();
}

async function start() {
  try {
    const me = await api('GET', '/api/me');
    S.csrf = me.csrf; S.op = me.operator;
    $('who').textContent = S.op;
    await nextItem();
  } catch (e) { showLogin(); }
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('login-error').textContent = '';
  try {
    const r = await api('POST', '/api/login', { name: $('login-name').value, password: $('login-password').value });
    S.csrf = r.csrf; S.op = r.operator; $('who').textContent = S.op;
    $('login-password').value = '';
    await nextItem();
  } catch (e) { $('login-error').textContent = e.message; }
});

// ---- the queue ----

function reasonClass(it) {
  if (['no_barcode', 'unknown_page', 'register_failed', 'duplicate_page', 'unreadable', 'missing_page'].includes(it.reason)) return 'badge page';
  if (['handwritten', 'text'].includes(it.reason)) return 'badge written';
  return 'badge';
}

function optionText(it, v) {
  if (v === '') return 'no answer';
  if (v === '-1') return 'not applicable';
  if (v.includes(',')) return v.split(',').map((c) => optionText(it, c)).join(' + ');
  for (const o of it.options || []) if (String(o.code) === v) return v + ' ' + o.text;
  return v;
}

async function refreshLeft() {
  try {
    const p = await api('GET', '/api/progress');
    S.left = p.left; $('left').textContent = p.left + ' left';
    renderEmpty();
  } catch (e) { /* shown by api() */ }
}

// No item on screen: the queue is empty, or the items left are held by
// other operators (or were settled under the operator): → asks again.
function renderEmpty() {
  const t = $('empty-text'); t.textContent = '';
  if (S.left > 0) {
    $('empty-head').textContent = 'No item for you just now';
    t.append(S.left + (S.left === 1 ? ' item is' : ' items are') + ' left, held by other operators or being re-coded. ',
      el('kbd', '', '→'), ' or ', el('kbd', '', 'Enter'), ' asks for the next one, ', el('kbd', '', 'o'), ' shows the progress.');
  } else {
    $('empty-head').textContent = 'The queue is empty';
    t.append('Nothing is left for you to review. ', el('kbd', '', 'o'), ' shows the progress, ', el('kbd', '', 'u'), ' undoes your last decision.');
  }
}

async function nextItem(skip) {
  setMode('queue');
  const r = await api('POST', '/api/next', skip ? { skip } : {});
  showItem(r.item, false);
  refreshLeft();
}

function showItem(it, readonly) {
  setMode('queue');
  clearDigits(); // a digit typed on the item before must not reach this one
  S.item = it; S.readonly = !!readonly; S.pageAction = ''; S.cands = null;
  $('queue').classList.toggle('readonly', S.readonly);
  const has = !!it;
  for (const id of ['item-head', 'question', 'cell', 'crop-box', 'detail', 'answer', 'keys-line']) $(id).hidden = !has;
  $('empty').hidden = has;
  if (!has) { $('entry-input').blur(); renderEmpty(); return; } // no field to type in: → and Enter ask for an item
  $('reason').className = reasonClass(it);
  $('reason').textContent = it.reason_text;
  let where = 'form ' + (it.form || '?') + ' · respondent ' + (it.respondent || '?');
  if (it.case) where += ' · case ' + it.case;
  if (it.page_number) where += ' · page ' + it.page_number;
  if (it.file) where += ' · ' + it.file + ' p.' + it.file_page;
  $('where').textContent = where;
  $('item-state').textContent = S.readonly ? ('decided by ' + it.decision.operator + ' ' + it.decision.time.replace('T', ' ').slice(0, 19))
    : ('item ' + it.id);
  const q = $('question'); q.textContent = '';
  if (it.question) { q.append(el('span', 'ql', it.question.label), it.question.text); }
  else if (it.input === 'page') q.textContent = 'Whole page: what is this sheet?';
  else if (it.input === 'dup') q.textContent = 'Page scanned again: a duplicate, or a further case?';
  else if (it.input === 'missing') {
    const m = it.missing;
    q.textContent = 'Page ' + m.page_number + ' of form ' + m.form + (m.case ? ' (case ' + m.case + ')' : '')
      + ' is missing for respondent ' + it.respondent;
  }
  $('cell').textContent = it.cell || (it.var && it.input !== 'dup' ? it.var : '');
  const img = $('crop');
  const src = it.image || it.page_image || '';
  img.className = it.image ? '' : 'page';
  $('crop-error').hidden = true;
  if (src) { img.src = src; img.hidden = false; } else { img.removeAttribute('src'); img.hidden = true; }
  $('detail').textContent = it.detail;
  S.value = S.readonly ? it.decision.after : it.proposal;
  // two marks where one is allowed ("4,5"): no value until the operator picks one
  if (!S.readonly && it.input === 'choice' && S.value !== '' && S.value !== '-1'
      && !(it.options || []).some((o) => String(o.code) === S.value)) S.value = null;
  if (it.input === 'page' || it.input === 'dup') S.value = S.readonly ? it.decision.after : '';
  if (it.input === 'missing') S.value = S.readonly ? it.decision.after : '';
  S.cursor = Math.max(0, (it.options || []).findIndex((o) => String(o.code) === S.value));
  renderAnswer();
}

function renderAnswer() {
  const it = S.item;
  const p = $('proposal'); p.textContent = '';
  if (it.input === 'missing') {
    p.append('No scanned page of this respondent is ' + it.missing.form + '-' + it.missing.page_number + '. Was it not sent, or is it one of the unidentified pages?');
  } else if (it.input !== 'page' && it.input !== 'dup') {
    p.append('Machine reads: ');
    p.append(el('b', '', it.proposal === '' ? '(nothing certain)' : optionText(it, it.proposal)));
  } else {
    p.append('Choose what to do with this page.');
  }
  const ch = $('choices'); ch.textContent = '';
  const entry = $('entry'), inp = $('entry-input');
  entry.hidden = true;
  inp.blur(); // a hidden field must not keep the keys
  const opts = it.options || [];
  const setv = new Set(S.value ? S.value.split(',') : []);
  const proposed = new Set(it.proposal ? it.proposal.split(',') : []);
  if (it.input === 'choice' || it.input === 'set') {
    opts.forEach((o, i) => {
      const c = el('span', 'choice');
      const on = it.input === 'set' ? setv.has(String(o.code)) : String(o.code) === S.value;
      if (on) c.classList.add('on');
      if (it.input === 'choice' && proposed.has(String(o.code))) c.classList.add('prop');
      if (i === S.cursor && it.input === 'set') c.classList.add('cursor');
      c.append(el('span', 'code', String(o.code)), ' ' + o.text);
      ch.append(c);
    });
  } else if (it.input === 'page') {
    for (const [k, a, t] of [['a', 'assign', 'assign to form / page / respondent'], ['d', 'duplicate', 'duplicate scan: leave out'], ['r', 'reject', 'reject the page']]) {
      const c = el('span', 'choice' + (S.pageAction === a || S.value.startsWith(a) ? ' on' : ''));
      c.append(el('kbd', '', k), ' ' + t); ch.append(c);
    }
    if (S.pageAction === 'assign') {
      entry.hidden = false;
      $('entry-label').textContent = 'Form, page and respondent, e.g. "A 3 000123" — Enter assigns';
    }
  } else if (it.input === 'missing') {
    for (const [k, a, t] of [['m', 'missing', 'the page is really missing: its questions stay empty'], ['a', 'pick', 'pick the page among the unidentified pages']]) {
      const c = el('span', 'choice' + (S.value === a || (a === 'pick' && S.cands) ? ' on' : ''));
      c.append(el('kbd', '', k), ' ' + t); ch.append(c);
    }
    if (S.cands) {
      const list = el('div', 'cands');
      if (!S.cands.length) list.append(el('p', '', 'No unidentified page is waiting. m: the page is really missing.'));
      S.cands.forEach((c, i) => {
        const d = el('div', 'cand' + (i === S.candCursor ? ' cursor' : ''));
        const im = el('img'); im.src = c.image; im.alt = 'unidentified page'; d.append(im);
        d.append(el('div', 'meta', c.file + ' p.' + c.file_page + ' — ' + c.reason_text));
        list.append(d);
      });
      ch.append(list);
    }
  } else if (it.input === 'dup') {
    for (const [k, a, t] of [['d', 'duplicate', 'duplicate: the same sheet scanned twice, leave it out'], ['c', 'case', 'a further case (photocopied case page)']]) {
      const c = el('span', 'choice' + (S.value === a ? ' on' : ''));
      c.append(el('kbd', '', k), ' ' + t); ch.append(c);
    }
  } else {
    entry.hidden = false;
    const labels = {
      digits: 'Type the number written in the box — Enter accepts',
      number: 'Type the number as written, digits only (at most ' + it.boxes + ', one per box) — Enter accepts',
      list: 'Type the codes in box order, separated by commas (e.g. 3,1,5) — Enter accepts',
      text: it.hint ? ('Type the value: ' + it.hint + ' — Enter accepts') : 'Type what is written (transcription) — Enter accepts, Esc leaves the field',
    };
    $('entry-label').textContent = labels[it.input] || 'Value';
    if (it.input === 'digits' || it.input === 'list') {
      for (const o of opts) { const c = el('span', 'choice'); c.append(el('span', 'code', String(o.code)), ' ' + o.text); ch.append(c); }
    }
  }
  // a routing item: no field focus, so k / n work at once (i goes into the field)
  if (!entry.hidden && document.activeElement !== inp && !S.readonly && !it.allow_na) {
    inp.value = S.pageAction === 'assign' ? (it.form ? it.form + ' ' + (it.page_number || '') + ' ' + (it.respondent || '') : '') : S.value;
    setTimeout(() => { inp.focus(); inp.select(); }, 0);
  }
  inp.disabled = S.readonly;
  renderCurrent();
  const k = $('keys-line'); k.textContent = '';
  const hints = S.readonly ? [['u', 'undo and decide again'], ['→', 'back to the queue'], ['?', 'all keys']]
    : it.input === 'page' ? [['a', 'assign'], ['d', 'duplicate'], ['r', 'reject'], ['Enter', 'accept'], ['→', 'skip'], ['p', 'page view'], ['?', 'keys']]
    : it.input === 'dup' ? [['d', 'duplicate'], ['c', 'case'], ['Enter', 'accept'], ['→', 'skip'], ['p', 'page view'], ['?', 'keys']]
    : it.input === 'missing' ? (S.cands ? [['↑↓', 'choose a page'], ['Enter', 'assign it'], ['m', 'really missing'], ['Esc', 'back']] : [['m', 'really missing'], ['a', 'pick an unidentified page'], ['Enter', 'accept'], ['→', 'skip'], ['?', 'keys']])
    : it.input === 'choice' || it.input === 'set' ? (it.allow_na ? [['k', 'keep the answer as read'], ['n', 'not applicable: drop it']] : []).concat([['Enter', 'accept'], ['0-9', it.input === 'set' ? 'toggle option' : 'set'], ['↑↓', 'move'], ['x', 'clear'], ['→', 'skip'], ['←', 'previous'], ['u', 'undo'], ['g', 'group'], ['p', 'page'], ['?', 'keys']])
    : (it.allow_na ? [['k', 'keep as read'], ['n', 'not applicable']] : []).concat([['type', 'value'], ['Enter', 'accept'], ['Esc', 'leave field'], ['i', 'back to field'], ['x', 'clear (outside the field)'], ['→', 'skip'], ['u', 'undo'], ['p', 'page'], ['?', 'keys']]);
  for (const [key, what] of hints) { k.append(el('kbd', '', key), ' ' + what + '   '); }
}

// the line saying what Enter will record (re-drawn as the field is typed in)
function renderCurrent() {
  const it = S.item;
  const cur = $('current'); cur.textContent = '';
  if (it.input === 'missing' && S.cands && S.cands.length) {
    cur.append('Enter will assign: ');
    const c = S.cands[S.candCursor];
    cur.append(el('span', 'v', c.file + ' p.' + c.file_page + ' as ' + it.missing.form + '-' + it.missing.page_number + ' of ' + it.respondent));
  } else if (it.input !== 'page' || S.value) {
    cur.append(S.readonly ? 'Decided: ' : 'Enter will record: ');
    const v = el('span', 'v' + (!S.value ? ' empty' : ''), S.value === null ? 'choose one (type its code)'
      : S.value === '' ? (it.input === 'page' || it.input === 'dup' || it.input === 'missing' ? 'choose' : 'no answer')
      : S.value === 'missing' ? 'the page is missing' : it.input === 'text' ? S.value : optionText(it, S.value));
    cur.append(v);
  }
}

// The value in the entry field, as Enter sends it: a list's codes joined by
// commas, a number's digits without separators.
function fieldValue() {
  const it = S.item, raw = $('entry-input').value.trim();
  return it.input === 'list' ? raw.replace(/[\s、，]+/g, ',').replace(/,+/g, ',').replace(/^,|,$/g, '')
    : it.input === 'number' ? raw.replace(/[\s,.、，]+/g, '') : raw; // 1 234, 1,234: the digits
}

// typing in the field: "Enter will record" follows it
$('entry-input').addEventListener('input', () => {
  if (!S.item || S.readonly || S.mode !== 'queue' || $('entry').hidden || S.pageAction === 'assign') return;
  S.value = fieldValue();
  renderCurrent();
});

async function accept(keep) {
  const it = S.item;
  if (!it || S.readonly || S.busy) return;
  flushDigits(); // "1" then Enter at once: the 1 counts (it might have begun 10, 11, ...)
  if (it.input === 'missing' && S.cands && S.cands.length && S.value !== 'missing') { assignMissing(); return; }
  let value = keep ? it.proposal : S.value;
  if (!$('entry').hidden && !keep) {
    const raw = $('entry-input').value.trim();
    if (it.input === 'page' && S.pageAction === 'assign') {
      const m = raw.split(/[\s:,-]+/);
      if (m.length !== 3) { toast('type form, page and respondent, e.g. A 3 000123', true); return; }
      value = 'assign:' + m[0].toUpperCase() + ':' + parseInt(m[1], 10) + ':' + m[2];
    } else value = fieldValue();
  }
  if ((it.input === 'page' || it.input === 'dup' || it.input === 'missing') && !value) { toast('choose first: ' + (it.input === 'page' ? 'a, d or r' : it.input === 'missing' ? 'm or a' : 'd or c'), true); return; }
  if (value === null) { toast('the machine read several marks: type the code of the one that counts (x: no answer)', true); return; }
  S.busy = true;
  try {
    const r = await api('POST', '/api/decide', { item: it.id, value, next: true });
    S.resolved++;
    toast('saved ' + (it.question ? it.question.label : 'page') + ' = ' + (value === '' ? 'no answer' : value));
    if (r.warning) toast(r.warning, true);
    $('entry-input').blur();
    showItem(r.next, false);
    refreshLeft();
  } catch (e) {
    toast(e.message, true);
    if (e.reply && e.reply.settled) { $('entry-input').blur(); showItem(e.reply.next, false); refreshLeft(); }
  }
  S.busy = false;
}

// a missing page: the operator picked one of the unidentified pages
async function pickMissing() {
  try {
    const r = await api('GET', '/api/unidentified');
    S.cands = r.pages; S.candCursor = 0; S.value = '';
    renderAnswer();
  } catch (e) { toast(e.message, true); }
}

async function assignMissing() {
  const it = S.item, c = S.cands[S.candCursor];
  S.busy = true;
  try {
    const r = await api('POST', '/api/assign', { missing: it.id, item: c.item, next: true });
    S.resolved++;
    toast('assigned ' + c.file + ' p.' + c.file_page + ' as ' + it.missing.form + '-' + it.missing.page_number);
    showItem(r.next, false);
    refreshLeft();
  } catch (e) { toast(e.message, true); }
  S.busy = false;
}

// A digit that may begin a longer code ("1" of 10, 11, ...) waits for the
// next digit, 650 ms at most; Enter or another key applies it at once
// (flushDigits), a new item drops it (clearDigits).
function typeDigit(d) {
  const it = S.item, opts = it.options || [];
  const codes = opts.map((o) => String(o.code));
  let cand = S.buf + d;
  if (!codes.some((c) => c.startsWith(cand))) cand = d;
  S.buf = cand;
  clearTimeout(S.bufTimer); S.bufApply = null;
  const longer = codes.some((c) => c !== cand && c.startsWith(cand));
  const apply = () => {
    clearTimeout(S.bufTimer); S.bufTimer = 0; S.bufApply = null;
    if (S.item !== it || S.readonly || S.mode !== 'queue') return; // another item or screen meanwhile
    S.buf = '';
    if (!codes.includes(cand)) return;
    if (it.input === 'set') {
      const set = new Set(S.value ? S.value.split(',') : []);
      if (set.has(cand)) set.delete(cand); else set.add(cand);
      S.value = codes.filter((c) => set.has(c)).join(',');
    } else S.value = cand;
    S.cursor = codes.indexOf(cand);
    renderAnswer();
  };
  if (longer) { S.bufApply = apply; S.bufTimer = setTimeout(apply, 650); } else apply();
}

function flushDigits() { if (S.bufApply) S.bufApply(); }

function clearDigits() { clearTimeout(S.bufTimer); S.bufTimer = 0; S.bufApply = null; S.buf = ''; }

function moveCursor(delta) {
  const it = S.item, opts = it.options || [];
  if (!opts.length) return;
  S.cursor = (S.cursor + delta + opts.length) % opts.length;
  if (it.input === 'choice') S.value = String(opts[S.cursor].code);
  renderAnswer();
}

async function undo() {
  try {
    const r = await api('POST', '/api/undo', {});
    S.resolved = Math.max(0, S.resolved - 1);
    if (r.item) {
      toast('undone: item ' + r.undone + ' is yours to decide again');
      showItem(r.item, false);
      refreshLeft();
    } else {
      // re-coding without the decision no longer raises the item: nothing to
      // decide again there, so on with the queue
      toast('undone: item ' + r.undone + ' is no longer asked (re-coded without your decision): here is the next item');
      await nextItem();
    }
  } catch (e) { toast(e.message, true); }
}

// No item on screen (→ or Enter): ask the server again; the items left may
// have come free since.
async function askNext() {
  await nextItem();
  if (!S.item) toast(S.left > 0 ? 'no item free for you yet: ' + S.left + ' left, held by other operators' : 'the queue is empty', true);
}

async function previous() {
  try {
    const h = await api('GET', '/api/history');
    const d = h.decisions.find((x) => !x.undone);
    if (!d) { toast('no decision of yours yet', true); return; }
    const r = await api('GET', '/api/item/' + d.item);
    if (S.item && !S.readonly) await api('POST', '/api/release', {});
    showItem(r.item, !!r.item.decision);
  } catch (e) { toast(e.message, true); }
}

function queueKey(ev) {
  const it = S.item, k = ev.key;
  const inField = it && document.activeElement === $('entry-input') && !$('entry').hidden;
  if (inField) {
    if (k === 'Enter') { accept(); return true; }
    if (k === 'Escape') { $('entry-input').blur(); return true; }
    return false; // typing goes into the field
  }
  if (k === 'u') { undo(); return true; }
  if (!it) {
    if (k === 'ArrowRight' || k === 'Enter') { askNext().catch((e) => toast(e.message, true)); return true; }
    return false;
  }
  // back into the field of a written box or a transcription
  if ((k === 'Tab' || k === 'i') && !$('entry').hidden && !S.readonly) { $('entry-input').focus(); return true; }
  if (S.readonly) {
    if (k === 'ArrowRight' || k === 'Escape' || k === 'Enter') { nextItem(); return true; }
    return false;
  }
  if (k === 'Enter') { accept(); return true; }
  if (k === 'ArrowRight') { nextItem(it.id); return true; }
  if (k === 'ArrowLeft') { previous(); return true; }
  if (it.input === 'page') {
    if (k === 'd') { S.pageAction = 'duplicate'; S.value = 'duplicate'; renderAnswer(); return true; }
    if (k === 'r') { S.pageAction = 'reject'; S.value = 'reject'; renderAnswer(); return true; }
    if (k === 'a') { S.pageAction = 'assign'; S.value = ''; renderAnswer(); return true; }
    return false;
  }
  if (it.input === 'missing') {
    if (k === 'm') { S.cands = null; S.value = 'missing'; renderAnswer(); return true; }
    if (k === 'a') { pickMissing(); return true; }
    if (S.cands && k === 'ArrowDown') { S.candCursor = Math.min(S.cands.length - 1, S.candCursor + 1); renderAnswer(); return true; }
    if (S.cands && k === 'ArrowUp') { S.candCursor = Math.max(0, S.candCursor - 1); renderAnswer(); return true; }
    if (S.cands && k === 'Escape') { S.cands = null; renderAnswer(); return true; }
    return false;
  }
  // a written box or a transcription, the cursor outside the field: x clears it (no answer)
  if ((k === 'x' || k === 'Backspace' || k === 'Delete') && !$('entry').hidden && S.pageAction !== 'assign') {
    $('entry-input').value = ''; S.value = ''; renderCurrent(); return true;
  }
  if (it.allow_na && k === 'k') { accept(true); return true; }
  if (it.allow_na && k === 'n' && it.input !== 'choice' && it.input !== 'set') { S.value = '-1'; accept(); return true; }
  if (it.input === 'dup') {
    if (k === 'd') { S.value = 'duplicate'; renderAnswer(); return true; }
    if (k === 'c') { S.value = 'case'; renderAnswer(); return true; }
    return false;
  }
  if (it.input === 'choice' || it.input === 'set') {
    if (/^[0-9]$/.test(k)) { typeDigit(k); return true; }
    flushDigits(); // "1" then ↓ or x: the 1 counts first
    if (k === 'ArrowDown') { moveCursor(1); return true; }
    if (k === 'ArrowUp') { moveCursor(-1); return true; }
    if (k === ' ' && it.input === 'set') { typeDigit(String(it.options[S.cursor].code)); return true; }
    if (k === 'Backspace' || k === 'Delete' || k === 'x') { S.value = ''; renderAnswer(); return true; }
    if (k === 'n' && it.allow_na) { S.value = '-1'; renderAnswer(); return true; }
  }
  return false;
}

// ---- group review ----

// Transcriptions are typed one by one in the queue: a tile cannot take text,
// and accepting a group of them would record every one as "no answer".
const TYPED_REASONS = ['text', 'other_text'];
const typedInput = (it) => it.input === 'text';

async function showGroups() {
  setMode('groups');
  clearTileDigits();
  if (S.item && !S.readonly) { try { await api('POST', '/api/release', {}); } catch (e) { /* shown */ } }
  S.group = null;
  $('group-work').hidden = true; $('group-list').hidden = false;
  const r = await api('GET', '/api/groups');
  S.groupList = r.groups.filter((g) => !TYPED_REASONS.includes(g.reason));
  S.groupsLeftOut = r.groups.length - S.groupList.length;
  // start on the group of the item that was on screen
  const it = S.item;
  S.groupCursor = Math.max(0, it ? S.groupList.findIndex((g) => g.form === it.form && g.question === it.question_id && g.var === it.var) : 0);
  renderGroupList();
}

function groupsLeftOutNote(box) {
  if (S.groupsLeftOut) box.append(el('p', 'note', S.groupsLeftOut + (S.groupsLeftOut === 1 ? ' group' : ' groups') + ' of transcriptions left out: they are typed one by one in the queue.'));
}

function renderGroupList() {
  const box = $('group-list'); box.textContent = '';
  box.append(el('h2', '', 'Group review: one question across many forms'));
  if (!S.groupList.length) { box.append(el('p', '', 'No question has two or more open items. q goes back to the queue.')); groupsLeftOutNote(box); return; }
  box.append(el('p', '', '↑↓ choose a group, Enter opens it, Esc back to the queue.'));
  groupsLeftOutNote(box);
  const t = el('table');
  const h = el('tr'); for (const c of ['question', 'column', 'why', 'form', 'items']) h.append(el('th', '', c)); t.append(h);
  S.groupList.forEach((g, i) => {
    const tr = el('tr', i === S.groupCursor ? 'cursor' : '');
    for (const c of [g.label, g.var || '(whole question)', g.reason_text, g.form, String(g.count)]) tr.append(el('td', '', c));
    t.append(tr);
  });
  box.append(t);
}

async function openGroup(g) {
  const r = await api('POST', '/api/group', { reason: g.reason, form: g.form, question: g.question, var: g.var, limit: 48 });
  if (r.items.some(typedInput)) {
    // whatever the reason, a tile cannot take a transcription: give the items back
    try { await api('POST', '/api/release', {}); } catch (e) { /* shown */ }
    toast('these items are transcriptions: type them one by one in the queue (q), not as a group', true);
    return;
  }
  clearTileDigits();
  S.group = g;
  S.tiles = r.items.map((it) => ({ it, value: it.proposal, cleared: false }));
  S.tileCursor = 0;
  S.tileTyping = -1;
  $('group-list').hidden = true; $('group-work').hidden = false;
  const first = r.items[0];
  $('group-title').textContent = g.label + ' ' + (g.var || '') + ' — ' + g.reason_text + ' — ' + r.items.length + ' forms'
    + (first && first.question ? ' — ' + first.question.text : '');
  $('group-help').textContent = 'Each tile shows what Enter will record. ←→↑↓ move, a digit sets the tile under the cursor'
    + ' (several options allowed: toggles that option; codes in order: adds it; two-digit codes: type both digits), x clears it, Enter accepts ALL tiles, Esc back.';
  renderTiles();
}

function renderTiles() {
  const box = $('tiles'); box.textContent = '';
  S.tiles.forEach((t, i) => {
    const d = el('div', 'tile' + (i === S.tileCursor ? ' cursor' : ''));
    if (t.it.image) { const im = el('img'); im.src = t.it.image; im.alt = 'crop'; d.append(im); }
    const m = el('div', 'meta');
    m.append(el('span', '', t.it.respondent + (t.it.case ? ' case ' + t.it.case : '')));
    m.append(el('span', 'val' + (t.value !== t.it.proposal ? ' changed' : '') + (t.value === '' ? ' empty' : ''), t.value === '' ? 'no answer' : optionText(t.it, t.value)));
    if (i === S.tileBufAt && S.tileBuf) m.append(el('span', 'typing', S.tileBuf + '…'));
    d.append(m);
    box.append(d);
  });
  const cur = box.children[S.tileCursor];
  if (cur) cur.scrollIntoView({ block: 'nearest' });
}

async function acceptGroup() {
  if (!S.tiles.length || S.busy) return;
  flushTileDigits(); // "1" then Enter at once: the 1 counts
  // an empty number or transcription is recorded only when cleared on purpose (x)
  const bad = S.tiles.findIndex((t) => t.value === '' && !t.cleared && (typedInput(t.it) || t.it.input === 'number'));
  if (bad >= 0) {
    S.tileCursor = bad; renderTiles();
    toast('tile ' + (bad + 1) + ' has no value: type it (x: record no answer), or decide it in the queue', true);
    return;
  }
  S.busy = true;
  try {
    const r = await api('POST', '/api/group/decide', { decisions: S.tiles.map((t) => ({ item: t.it.id, value: t.value })) });
    S.resolved += r.decided;
    toast(r.decided + ' items decided');
    await showGroups();
    refreshLeft();
  } catch (e) { toast(e.message, true); }
  S.busy = false;
}

function groupKey(ev) {
  const k = ev.key;
  if (!S.group) {
    if (k === 'ArrowDown') { S.groupCursor = Math.min(S.groupList.length - 1, S.groupCursor + 1); renderGroupList(); return true; }
    if (k === 'ArrowUp') { S.groupCursor = Math.max(0, S.groupCursor - 1); renderGroupList(); return true; }
    if (k === 'Enter' && S.groupList.length) { openGroup(S.groupList[S.groupCursor]).catch((e) => toast(e.message, true)); return true; }
    return false;
  }
  const n = S.tiles.length, cols = Math.max(1, Math.round($('tiles').clientWidth / 340));
  if (!/^[0-9]$/.test(k)) flushTileDigits(); // "1" then → or x: the 1 counts first, on its tile
  if (k.startsWith('Arrow')) S.tileTyping = -1; // back on a number tile: typing starts it afresh
  if (k === 'ArrowRight') S.tileCursor = Math.min(n - 1, S.tileCursor + 1);
  else if (k === 'ArrowLeft') S.tileCursor = Math.max(0, S.tileCursor - 1);
  else if (k === 'ArrowDown') S.tileCursor = Math.min(n - 1, S.tileCursor + cols);
  else if (k === 'ArrowUp') S.tileCursor = Math.max(0, S.tileCursor - cols);
  else if (/^[0-9]$/.test(k)) {
    const t = S.tiles[S.tileCursor], codes = (t.it.options || []).map((o) => String(o.code));
    if (t.it.input === 'number') { // a number: the digits add up (the first replaces the proposal), → moves on
      const v = S.tileTyping === S.tileCursor ? t.value + k : k;
      if (v.length > t.it.boxes) toast('at most ' + t.it.boxes + ' digits here', true); else { t.value = v; t.cleared = false; }
      S.tileTyping = S.tileCursor;
    }
    else if (codes.length) tileDigit(k, codes);
    else if (t.it.input === 'digits') { t.value = k; t.cleared = false; S.tileCursor = Math.min(n - 1, S.tileCursor + 1); }
    else toast(k + ' is not an option here', true);
  } else if (k === 'Backspace' && S.tiles[S.tileCursor].it.input === 'number' && S.tileTyping === S.tileCursor) {
    S.tiles[S.tileCursor].value = S.tiles[S.tileCursor].value.slice(0, -1);
  } else if (k === 'x' || k === 'Backspace' || k === 'Delete') { S.tiles[S.tileCursor].value = ''; S.tiles[S.tileCursor].cleared = true; }
  else if (k === 'Enter') { acceptGroup(); return true; }
  else return false;
  renderTiles();
  return true;
}

// A digit on a tile with options: as typeDigit in the queue, a digit that may
// begin a longer code waits for the next one (650 ms at most, or the next
// key); a set (several options allowed) toggles the code, a list (codes in
// box order) adds it at the end or takes it out, a single value takes it and
// the cursor moves on.
function tileDigit(d, codes) {
  const i = S.tileCursor, t = S.tiles[i];
  if (S.tileBufAt !== i) flushTileDigits();
  let cand = S.tileBuf + d;
  if (!codes.some((c) => c.startsWith(cand))) cand = d;
  clearTimeout(S.tileTimer); S.tileApply = null;
  if (!codes.some((c) => c.startsWith(cand))) { S.tileBuf = ''; S.tileBufAt = -1; toast(d + ' is not an option here', true); return; }
  S.tileBuf = cand; S.tileBufAt = i;
  const longer = codes.some((c) => c !== cand && c.startsWith(cand));
  const group = S.group;
  const apply = (byKey) => { // byKey: another key applies it (and moves the cursor itself)
    clearTileDigits();
    if (S.group !== group || S.tiles[i] !== t) return; // another group meanwhile
    if (!codes.includes(cand)) { renderTiles(); return; } // "1" where only 10, 11 are codes
    if (t.it.input === 'set') {
      const set = new Set(t.value ? t.value.split(',') : []);
      if (set.has(cand)) set.delete(cand); else set.add(cand);
      t.value = codes.filter((c) => set.has(c)).join(',');
    } else if (t.it.input === 'list') { // codes in box order: a code is added at the end, or taken out
      const list = t.value ? t.value.split(',') : [];
      t.value = (list.includes(cand) ? list.filter((c) => c !== cand) : list.concat([cand])).join(',');
    } else {
      t.value = cand;
      if (!byKey && S.tileCursor === i) S.tileCursor = Math.min(S.tiles.length - 1, i + 1);
    }
    t.cleared = false;
    renderTiles();
  };
  if (longer) { S.tileApply = apply; S.tileTimer = setTimeout(() => apply(false), 650); } else apply(false);
}

function flushTileDigits() { if (S.tileApply) S.tileApply(true); }

function clearTileDigits() { clearTimeout(S.tileTimer); S.tileTimer = 0; S.tileApply = null; S.tileBuf = ''; S.tileBufAt = -1; }

// ---- page view ----

async function showPage() {
  const it = S.item;
  if (!it || !it.page_id) { toast('this item has no page', true); return; }
  setMode('page');
  const w = Math.max(400, Math.min(1400, Math.floor((window.innerHeight - 140) / 1.414)));
  const r = await api('GET', '/api/page/' + it.page_id + '?w=' + w);
  $('page-head').textContent = 'Page ' + (r.form || '?') + '-' + String(r.page_number).padStart(2, '0') + ' of respondent ' + (it.respondent || '?')
    + (r.registered ? '' : ' — not registered: the template cannot be drawn over it') + ' — Esc back to the item';
  if (r.warning) $('page-head').textContent += ' — ' + r.warning;
  const img = $('page-img'); img.src = r.image; img.width = r.width; img.height = r.height;
  const svg = $('page-svg');
  svg.setAttribute('viewBox', '0 0 ' + r.width + ' ' + r.height);
  svg.textContent = '';
  const ns = 'http://www.w3.org/2000/svg';
  for (const g of r.regions) {
    const p = document.createElementNS(ns, 'polygon');
    const pts = []; for (let i = 0; i < 8; i += 2) pts.push(g.pts[i].toFixed(1) + ',' + g.pts[i + 1].toFixed(1));
    p.setAttribute('points', pts.join(' '));
    p.setAttribute('class', g.state + (g.item === it.id ? ' current' : ''));
    const t = document.createElementNS(ns, 'title'); t.textContent = g.var + ': ' + g.state; p.append(t);
    svg.append(p);
  }
}

// ---- progress ----

function fillTable(t, head, rows) {
  t.textContent = '';
  const h = el('tr'); for (const c of head) h.append(el('th', '', c)); t.append(h);
  for (const r of rows) { const tr = el('tr'); for (const c of r) tr.append(el('td', '', String(c))); t.append(tr); }
}

async function showOverview() {
  setMode('overview');
  const p = await api('GET', '/api/progress');
  $('ov-summary').textContent = p.left + ' items left of ' + p.total + ' · you: ' + S.resolved + ' resolved in this session, '
    + (S.resolved ? (S.keys / S.resolved).toFixed(2) : '–') + ' keys per item';
  fillTable($('ov-reason'), ['reason', 'open', 'leased', 'resolved'], p.by_reason.map((r) => [r.text, r.open, r.leased, r.resolved]));
  fillTable($('ov-batch'), ['batch', 'left', 'resolved'], p.by_batch.map((b) => [b.batch, b.left, b.resolved]));
  fillTable($('ov-ops'), ['operator', 'last hour', 'today', 'per hour today', 'all'], p.operators.map((o) => [o.operator, o.last_hour, o.today, o.per_hour_today.toFixed(0), o.total]));
}

// ---- keys ----

document.addEventListener('keydown', (ev) => {
  if (S.mode === 'login') return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  S.keys++;
  const help = $('help');
  if (!help.hidden) { help.hidden = true; ev.preventDefault(); return; }
  const inField = document.activeElement && document.activeElement.tagName === 'INPUT' && document.activeElement.offsetParent !== null;
  if (ev.key === '?' && !inField) { help.hidden = false; ev.preventDefault(); return; }
  let done = false;
  if (S.mode === 'queue') done = queueKey(ev);
  else if (S.mode === 'groups') done = groupKey(ev);
  if (!done && !inField) {
    const k = ev.key;
    const back = () => (S.item && !S.readonly && S.mode !== 'groups' ? showItem(S.item, false) : nextItem());
    if (k === 'g' && S.mode !== 'groups') { showGroups().catch((e) => toast(e.message, true)); done = true; }
    else if (k === 'p' && S.mode === 'queue') { showPage().catch((e) => toast(e.message, true)); done = true; }
    else if (k === 'o') { showOverview().catch((e) => toast(e.message, true)); done = true; }
    else if (k === 'q' || k === 'Escape') {
      if (S.mode === 'groups' && S.group && k === 'Escape') { showGroups().catch((e) => toast(e.message, true)); }
      else if (S.mode !== 'queue') { Promise.resolve(back()).catch((e) => toast(e.message, true)); }
      done = true;
    }
  }
  if (done) ev.preventDefault();
});

// A crop the server cannot make (the scan moved, or another file written
// over it since the scan: review_files.c) says why instead of a broken image.
$('crop').addEventListener('error', async () => {
  const img = $('crop'), src = img.getAttribute('src');
  if (!src) return;
  let why = 'the image could not be loaded';
  try { const j = await (await fetch(src, { credentials: 'same-origin' })).json(); if (j.error) why = j.error; } catch (e) { /* keep the generic reason */ }
  if (img.getAttribute('src') !== src) return; // another item meanwhile
  img.hidden = true;
  const p = $('crop-error'); p.textContent = 'No image: ' + why; p.hidden = false;
});

start();

