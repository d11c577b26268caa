// app.js — the field app's shell: sign-in (from the link's #device=…&token=…
// or the form), the sync bar, the list of rejected changes and conflicts,
// the views by address (#/ the list, #/s/ID a person, #/s/ID/visit a new
// visit, #/s/ID/visit/VID a visit, #/s/ID/edit the person's employment,
// #/fix/SEQ a rejected change), and the service worker that keeps the app
// on the tablet.
//
// Everything here runs on the page's one thread; the data layer (field.js)
// tells us what changed with its 'status' and 'data' events.
import { openField } from './field.js';
import { h } from '../dom.js';
import { t, setLang, getLang, ago, codeText, fieldName } from './i18n.js';
import { renderList } from './ui-list.js';
import { renderSubject } from './ui-subject.js';
import { renderForm } from './ui-form.js';

const $ = (id) => document.getElementById(id);
const CLOCK_MS = 30e3; // how often "3 分钟前" is redrawn

let field = null;
// The view on screen: its name and a redraw for when the data changes (null
// while a form is open, so a sync never wipes what the cadre is typing).
const view = { name: '', redraw: null };

// Views draw after awaiting IndexedDB, so two draws (a route and a sync's
// redraw, two quick taps, two keystrokes in the search box) can finish out
// of order. Each draw counts itself; one that a newer draw has overtaken
// leaves the screen alone, so the screen always shows the newest address
// and data. #view's data-route names the address drawn (tests wait on it).
let draws = 0;
async function draw(hash, render) {
  const n = ++draws;
  const stale = () => n !== draws;
  await render(stale);
  if (!stale()) $('view').dataset.route = hash;
}

// {device, token} from a sign-in link's hash, else null.
function credentialFromHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const device = p.get('device');
  const token = p.get('token');
  return device && token ? { device, token } : null;
}

function dropHash() {
  history.replaceState(null, '', location.pathname + location.search);
}

function showSignIn(msgKey) {
  $('app').hidden = true;
  $('signout').hidden = true;
  $('view').replaceChildren();
  $('problems').replaceChildren();
  $('signin').hidden = false;
  const msg = $('signin-msg');
  msg.dataset.i18n = msgKey || '';
  msg.textContent = msgKey ? t(msgKey) : '';
  msg.className = 'msg' + (msgKey && msgKey !== 'signed_out' && msgKey !== 'signing_in' ? ' error' : '');
}

function showApp() {
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  drawStatus();
  route();
}

// ---- the sync bar and the problems list ------------------------------------

function drawStatus() {
  if (!field || $('app').hidden) return;
  const st = field.status();
  const conn = $('conn');
  conn.className = 'conn ' + st.connection;
  $('conn-text').textContent = st.syncing && st.connection === 'online' ? t('syncing') : t('conn_' + st.connection);
  const pending = $('pending');
  pending.textContent = t('pending', { n: st.pending });
  pending.classList.toggle('has', st.pending > 0);
  pending.title = st.oldestPending ? t('oldest_pending', { t: ago(st.oldestPending) }) : '';
  $('photos').hidden = !st.photosPending;
  $('photos').textContent = t('photos_pending', { n: st.photosPending });
  $('last-sync').textContent = st.lastSyncOk ? t('last_sync', { t: ago(st.lastSyncOk) }) : t('never_synced');
  $('last-sync').title = st.lastError || '';
  $('sync').disabled = st.syncing;
  drawProblems(st);
}

// A refused change's wire error as the cadre should read it. An edit of a
// record that has left the device's grids comes back as missing_field on
// the scope field (for that device the record does not exist, so the change
// would have to name its grid): that is "no longer in your grid".
function explained(r) {
  const scope = field.schema?.[r.collection]?.scope;
  const code = r.code === 'missing_field' && scope && r.field === scope ? 'out_of_scope' : r.code;
  return { code, field: r.field, message: r.message };
}

// The record a rejected change or a conflict is about: where to correct it.
function linkFor(r) {
  if (r.seq !== undefined) return '#/fix/' + r.seq;
  if (r.collection === 'subjects') return '#/s/' + encodeURIComponent(r.id);
  return '#/v/' + encodeURIComponent(r.id);
}

function drawProblems(st) {
  const box = $('problems');
  box.replaceChildren();
  box.hidden = !st.rejected.length && !st.conflicts.length;
  if (st.rejected.length) {
    box.append(h('h2', { class: 'rejected-title' }, t('rejected_title', { n: st.rejected.length })),
      h('ul', { class: 'rejected' }, st.rejected.map((r) => h('li', { class: 'rejected-item', dataset: { seq: r.seq } },
        h('p', {}, codeText(explained(r).code, r.field, field.schema?.[r.collection]?.fields?.[r.field])),
        r.message ? h('p', { class: 'detail' }, t('server_said', { msg: r.message })) : null,
        h('div', { class: 'row' },
          h('a', { class: 'button primary', href: linkFor(r) }, t('rejected_fix')),
          h('button', { type: 'button', class: 'plain', onclick: () => field.dismissRejected(r.seq) }, t('dismiss')))))));
  }
  if (st.conflicts.length) {
    const list = h('ul', { class: 'conflicts' }, st.conflicts.map((c) => h('li', { class: 'conflict-item' },
      h('a', { href: linkFor(c) }, t('conflict_text', {
        fields: c.fields.map((n) => fieldName(n, field.schema?.[c.collection]?.fields?.[n])).join('、'),
      })),
      h('span', { class: 'muted small' }, ' ' + ago(c.at)))));
    box.append(h('details', { class: 'conflicts-box', open: st.conflicts.length <= 3 },
      h('summary', {}, t('conflicts_title', { n: st.conflicts.length })), list));
  }
}

// ---- views -------------------------------------------------------------------

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (!field || !field.credential) return Promise.resolve();
  const hash = location.hash;
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const main = $('view');
  view.redraw = null;
  window.scrollTo(0, 0);
  const ctx = (stale) => ({ field, go, stale, redraw: () => view.redraw && view.redraw() });
  if (parts[0] === 's' && parts[1] && !parts[2]) {
    view.name = 'subject';
    view.redraw = () => draw(hash, (stale) => renderSubject(main, ctx(stale), parts[1]));
    return view.redraw();
  }
  const form = parts[0] === 's' && parts[1] && (parts[2] === 'visit' || parts[2] === 'edit');
  if (form || (parts[0] === 'v' && parts[1]) || (parts[0] === 'fix' && parts[1])) {
    return draw(hash, (stale) => routeOther(main, ctx(stale), parts));
  }
  view.name = 'list';
  view.redraw = () => draw(hash, (stale) => renderList(main, ctx(stale)));
  return view.redraw();
}

// The views that a sync does not redraw: the forms, and the addresses that
// lead elsewhere.
async function routeOther(main, ctx, parts) {
  const { field, stale } = ctx;
  if (parts[0] === 's' && parts[1] && parts[2] === 'visit') {
    view.name = 'visit';
    const subject = await field.record('subjects', parts[1]);
    const visit = parts[3] ? await field.record('visits', parts[3]) : null;
    if (stale()) return;
    renderForm(main, ctx, {
      collection: 'visits', id: parts[3] || null, record: visit,
      title: t(parts[3] ? 'form_visit_edit' : 'form_visit', { name: subject?.fields.name || parts[1] }),
      fixed: { subject: parts[1], grid: subject?.fields.grid ?? visit?.fields.grid },
      back: '#/s/' + encodeURIComponent(parts[1]),
    });
  } else if (parts[0] === 's' && parts[1] && parts[2] === 'edit') {
    view.name = 'edit';
    const subject = await field.record('subjects', parts[1]);
    if (stale()) return;
    renderForm(main, ctx, {
      collection: 'subjects', id: parts[1], record: subject, only: ['employment', 'employer', 'income', 'dibao'],
      title: t('form_subject', { name: subject?.fields.name || parts[1] }),
      back: '#/s/' + encodeURIComponent(parts[1]),
    });
  } else if (parts[0] === 'v' && parts[1]) {
    // A conflict on a visit: open it under its person.
    const visit = await field.record('visits', parts[1]);
    if (stale()) return;
    if (visit) go(`#/s/${encodeURIComponent(visit.fields.subject)}/visit/${encodeURIComponent(parts[1])}`);
    else main.replaceChildren(h('p', { class: 'empty' }, t('not_found')));
  } else {
    await routeFix(main, ctx, Number(parts[1]));
  }
}

// A rejected change opens its form with the values it tried to set, so the
// cadre corrects them and saves again (which clears it from the list).
async function routeFix(main, ctx, seq) {
  view.name = 'fix';
  const r = field.status().rejected.find((x) => x.seq === seq);
  if (!r) { go('#/'); return; }
  const record = await field.record(r.collection, r.id);
  const fields = record?.fields || {};
  const subjectId = r.collection === 'subjects' ? r.id : (fields.subject ?? r.fields.subject);
  const subject = subjectId ? await field.record('subjects', subjectId) : null;
  const name = subject?.fields.name || subjectId || r.id;
  if (ctx.stale()) return;
  renderForm(main, ctx, {
    collection: r.collection, id: r.id, record, initial: r.fields,
    only: r.collection === 'subjects' ? Object.keys(r.fields) : null,
    title: t(r.collection === 'subjects' ? 'form_subject' : 'form_visit_edit', { name }),
    fixed: r.collection === 'visits' ? { subject: subjectId, grid: fields.grid ?? r.fields.grid } : null,
    error: explained(r),
    back: subjectId ? '#/s/' + encodeURIComponent(subjectId) : '#/',
  });
}

// ---- sign-in and out ----------------------------------------------------------

async function signIn(cred) {
  showSignIn('signing_in');
  try {
    await field.signIn(cred);
  } catch (e) {
    showSignIn(null);
    $('signin-msg').textContent = t('err_generic', { msg: e.message });
    $('signin-msg').className = 'msg error';
    return;
  }
  showApp();
}

// A token the server refuses: the sign-in page says why, and no data is
// shown behind it (§6). The data layer keeps what the tablet has not
// synced for the same device's next sign-in; signing out deletes it.
async function refused() {
  await field.forgetCredential();
  history.replaceState(null, '', location.pathname + location.search);
  showSignIn('signin_bad');
}

// Signs out: the data layer deletes the credential and every local record;
// a fresh one waits for the next sign-in.
async function forget() {
  await field.signOut();
  history.replaceState(null, '', location.pathname + location.search);
  await openData();
}

async function openData() {
  field = await openField();
  field.addEventListener('status', () => {
    if (field.credential && field.status().connection === 'unauthorized') { refused(); return; }
    drawStatus();
  });
  field.addEventListener('data', () => { if (view.redraw && !$('app').hidden) view.redraw(); });
}

// "3 条修改和 1 张照片": what signing out now would throw away.
function lost(st) {
  const parts = [];
  if (st.pending) parts.push(t('lost_changes', { n: st.pending }));
  if (st.photosPending) parts.push(t('lost_photos', { n: st.photosPending }));
  return parts.join(t('and'));
}

async function confirmSignOut() {
  const st = field.status();
  const names = [];
  if (st.pending) {
    for (const s of await field.subjects()) if (s.pending) names.push(s.fields.name || s.id);
  }
  const dialog = h('dialog', { class: 'confirm', id: 'signout-dialog' },
    h('h2', {}, t('confirm_signout_title')),
    h('p', {}, st.pending || st.photosPending ? t('confirm_signout_pending', { what: lost(st) }) : t('confirm_signout_none')),
    names.length ? h('ul', { class: 'pending-names' }, names.slice(0, 20).map((n) => h('li', {}, n))) : null,
    h('form', { method: 'dialog', class: 'row' },
      h('button', { value: 'cancel', class: 'plain' }, t('cancel')),
      h('button', { value: 'ok', class: 'danger', id: 'signout-ok' }, t('confirm_signout_ok'))));
  document.body.append(dialog);
  dialog.addEventListener('close', async () => {
    dialog.remove();
    if (dialog.returnValue !== 'ok') return;
    await forget();
    showSignIn('signed_out');
  });
  dialog.showModal();
}

// ---- offline: the service worker ----------------------------------------------

// Without a secure context (plain http on an address other than localhost)
// the browser has no service worker: the app works online only, and says so.
async function registerWorker() {
  const notice = $('insecure-notice');
  const why = () => {
    notice.textContent = t('insecure', { origin: location.origin });
    notice.hidden = false;
  };
  if (!window.isSecureContext || !('serviceWorker' in navigator)) { why(); return; }
  try {
    await navigator.serviceWorker.register('sw.js', { scope: './' });
  } catch (e) {
    why();
    notice.append(' (' + e.message + ')');
  }
}

async function boot() {
  setLang(getLang());
  $('lang').addEventListener('click', () => {
    setLang(getLang() === 'zh' ? 'en' : 'zh');
    if (!$('insecure-notice').hidden) $('insecure-notice').textContent = t('insecure', { origin: location.origin });
    drawStatus();
    if (view.redraw) view.redraw();
    else if (!$('app').hidden) route();
  });
  $('signout').addEventListener('click', confirmSignOut);
  $('sync').addEventListener('click', () => field.syncNow());
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const device = $('device-input').value.trim();
    const token = $('token-input').value.trim();
    if (!device || !token) { showSignIn('signin_empty'); return; }
    $('token-input').value = '';
    signIn({ device, token });
  });
  registerWorker();
  await openData();
  window.addEventListener('hashchange', () => { if (!credentialFromHash()) route(); });
  setInterval(drawStatus, CLOCK_MS);
  const cred = credentialFromHash();
  if (cred) {
    dropHash();
    await signIn(cred);
  } else if (field.credential) {
    showApp();
    field.start();
  } else {
    showSignIn(null);
  }
}

boot();
