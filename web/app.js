// app.js — the supervisors' dashboard: sign-in, the three tabs (devices,
// conflicts, programme figures) and keeping them live from /monitor, with a
// poll of /api/status every 30 s in case the monitor is down.
//
// A signed-in session has a number (gen). Signing out, a 401 and a new
// sign-in end the session: its timers and its /monitor socket are stopped,
// its API calls aborted, and whatever of it still arrives (an answer, an
// error, a hook from a timer) sees gen has moved on and is dropped.
import { t, setLang, getLang, num } from './i18n.js';
import { getToken, setToken, forgetToken, takeTokenFromHash, getStatus, getReport, Unauthorized, endSession, aborted } from './api.js';
import { renderDevices } from './devices.js';
import { renderConflicts, refreshConflicts, resetConflicts } from './conflicts.js';
import { renderReport } from './report.js';
import { Monitor } from './live.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 30e3;
const REPORT_MIN_MS = 10e3;

const state = { status: null, report: null, tab: 'devices', poll: null, monitor: null, reportAt: 0, reportTimer: null };
let gen = 0;

// fn, made to do nothing once the session it was made in has ended.
function ofSession(fn) {
  const mine = gen;
  return (...args) => { if (mine === gen) fn(...args); };
}

function gridsOf() {
  const names = new Map();
  for (const g of state.report?.coverage?.grids || []) names.set(g.grid, g.name);
  for (const d of state.status?.devices || []) for (const g of d.grids || []) if (!names.has(g)) names.set(g, g);
  return [...names.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

function drawFigures() {
  const st = state.status;
  const live = st ? st.devices.filter((d) => !d.revoked) : [];
  $('fig-online').textContent = st ? `${num(live.filter((d) => d.online).length)} / ${num(live.length)}` : '—';
  $('fig-conflicts').textContent = st ? num(st.conflicts_open) : '—';
  $('fig-records').textContent = st ? num(st.server.records) : '—';
  // A cursor is "<position>-<epoch>"; a supervisor wants the position.
  $('fig-cursor').textContent = st ? num(parseInt(st.server.cursor, 10)) : '—';
  const pill = $('tab-conflicts-count');
  pill.hidden = !st || !st.conflicts_open;
  pill.textContent = st ? String(st.conflicts_open) : '';
}

function drawDevices() { renderDevices($('panel-devices'), state.status, gridsOf()); }
function drawReport() { renderReport($('panel-report'), state.report); }

function banner(text) { $('banner').hidden = !text; $('banner').textContent = text || ''; }

// Wraps a refresh: read() asks the server, draw(answer) shows it. A 401
// signs out with a message, other errors show a banner; an answer or error
// that comes back after its session ended is dropped.
async function guarded(read, draw) {
  const mine = gen;
  try {
    const answer = await read();
    if (mine !== gen) return;
    draw(answer);
    banner('');
  } catch (e) {
    if (mine !== gen || aborted(e)) return;
    if (e instanceof Unauthorized) showSignIn('signin_expired');
    else banner(t('net_error', { msg: e.message }));
  }
}

const refreshStatus = () => guarded(getStatus, (st) => { state.status = st; drawFigures(); drawDevices(); });

const refreshReport = () => {
  state.reportAt = Date.now();
  return guarded(getReport, (r) => {
    state.report = r;
    drawReport();
    drawDevices(); // the grid filter learns the grids' names
  });
};

// At most one report every REPORT_MIN_MS, whatever the rate of events.
function scheduleReport() {
  if (state.reportTimer) return;
  const wait = Math.max(0, state.reportAt + REPORT_MIN_MS - Date.now());
  state.reportTimer = setTimeout(() => { state.reportTimer = null; refreshReport(); }, wait);
}

function selectTab(tab) {
  state.tab = tab;
  for (const name of ['devices', 'conflicts', 'report']) {
    $('tab-' + name).setAttribute('aria-selected', String(name === tab));
    $('panel-' + name).hidden = name !== tab;
  }
}

function onEvent(kinds) {
  if (kinds.has('status')) refreshStatus();
  if (kinds.has('conflicts')) refreshConflicts();
  if (kinds.has('report')) scheduleReport();
}

function setLive(on) {
  $('live').hidden = false;
  $('live').classList.toggle('on', on);
  $('live-text').dataset.i18n = on ? 'live' : 'not_live';
  $('live-text').textContent = t(on ? 'live' : 'not_live');
}

function stopSession() {
  gen++;
  endSession();
  clearInterval(state.poll);
  clearTimeout(state.reportTimer);
  if (state.monitor) state.monitor.close();
  Object.assign(state, { status: null, report: null, poll: null, monitor: null, reportTimer: null, reportAt: 0 });
  resetConflicts();
  for (const id of ['panel-devices', 'panel-conflicts', 'panel-report']) $(id).replaceChildren();
  drawFigures();
  banner('');
}

// The sign-in page, with msgKey's text when given; every piece of data is
// removed from the page first.
function showSignIn(msgKey, forget = true) {
  stopSession();
  if (forget) forgetToken();
  $('app').hidden = true;
  $('signout').hidden = true;
  $('live').hidden = true;
  $('signin').hidden = false;
  const msg = $('signin-msg');
  msg.textContent = msgKey ? t(msgKey) : '';
  msg.dataset.i18n = msgKey || '';
  if (!msgKey) delete msg.dataset.i18n;
  msg.className = 'msg' + (msgKey && msgKey !== 'signed_out' ? ' error' : '');
}

async function start() {
  stopSession(); // a second sign-in while the first is on its way replaces it
  const mine = gen;
  let status;
  try {
    status = await getStatus();
  } catch (e) {
    if (mine !== gen || aborted(e)) return;
    if (e instanceof Unauthorized) { showSignIn(getToken() ? 'signin_bad' : null); return; }
    showSignIn(null, false);
    $('signin-msg').textContent = t('net_error', { msg: e.message });
    $('signin-msg').className = 'msg error';
    return;
  }
  if (mine !== gen) return;
  state.status = status;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  drawFigures();
  drawDevices();
  drawReport();
  renderConflicts($('panel-conflicts'), {
    onUnauthorized: ofSession(() => showSignIn('signin_expired')),
    onResolved: ofSession(() => { refreshStatus(); scheduleReport(); }),
  });
  refreshReport();
  state.poll = setInterval(refreshStatus, POLL_MS);
  setLive(false);
  state.monitor = new Monitor(getToken(), { onEvent, onLive: setLive, onUnauthorized: () => refreshStatus() });
}

function redraw() {
  setLang(getLang());
  drawFigures();
  if (!$('app').hidden) {
    drawDevices();
    drawReport();
    refreshConflicts();
    if ($('live-text').dataset.i18n) $('live-text').textContent = t($('live-text').dataset.i18n);
  }
  const msg = $('signin-msg');
  if (msg.dataset.i18n) msg.textContent = t(msg.dataset.i18n);
}

function boot() {
  setLang(getLang());
  $('lang').addEventListener('click', () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); redraw(); });
  $('signout').addEventListener('click', () => showSignIn('signed_out'));
  for (const name of ['devices', 'conflicts', 'report']) $('tab-' + name).addEventListener('click', () => selectTab(name));
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const tok = $('token-input').value.trim();
    $('token-input').value = '';
    if (!tok) { showSignIn('signin_empty'); return; }
    setToken(tok);
    start();
  });
  // Another tab signed in or out: follow it.
  window.addEventListener('storage', (e) => { if (e.key === 'visitsync.token') location.reload(); });
  takeTokenFromHash();
  if (getToken()) start();
  else showSignIn(null);
}

boot();
