// live.js — the /monitor WebSocket (subprotocol visitsync.monitor): hello with
// the supervisor's token, then events treated as hints. Events are gathered
// for 300 ms and reported as the set of things to re-read ('status',
// 'conflicts', 'report'); the connection is re-opened with a growing delay
// (1 s doubling to 30 s) whenever it drops. After close() no hook runs again:
// a message or the close event of the old socket may still be dispatched.

const DEBOUNCE_MS = 300;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30e3;

// What each event makes stale.
const STALE = {
  online: ['status'], offline: ['status'], pull: ['status'],
  enrolled: ['status'], revoked: ['status'],
  push: ['status', 'report'],
  conflict: ['status', 'conflicts'],
};

export class Monitor {
  // hooks: onEvent(Set of kinds), onLive(bool), onUnauthorized().
  constructor(token, hooks) {
    this.token = token;
    this.hooks = hooks;
    this.delay = BACKOFF_MIN_MS;
    this.pending = new Set();
    this.timer = null;
    this.retry = null;
    this.closed = false;
    this.open();
  }

  open() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/monitor';
    let ws;
    try { ws = new WebSocket(url, 'visitsync.monitor'); } catch { this.later(); return; }
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token: this.token }));
    ws.onmessage = (m) => this.message(m.data);
    ws.onclose = (e) => {
      if (this.closed) return;
      this.hooks.onLive(false);
      if (e.code === 4401) { this.hooks.onUnauthorized(); return; }
      this.later();
    };
  }

  message(raw) {
    if (this.closed) return;
    let m;
    try { m = JSON.parse(raw); } catch { return; }
    if (m.type === 'welcome') {
      this.delay = BACKOFF_MIN_MS;
      this.hooks.onLive(true);
      // Whatever happened while we were away: re-read everything once.
      this.hint(['status', 'conflicts', 'report']);
    } else if (m.type === 'event') {
      this.hint(STALE[m.event] || ['status']);
      if (m.event === 'push' && m.conflicts > 0) this.hint(['conflicts']);
    }
  }

  hint(kinds) {
    for (const k of kinds) this.pending.add(k);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const kinds2 = this.pending;
      this.pending = new Set();
      this.hooks.onEvent(kinds2);
    }, DEBOUNCE_MS);
  }

  later() {
    if (this.closed) return;
    this.retry = setTimeout(() => this.open(), this.delay);
    this.delay = Math.min(BACKOFF_MAX_MS, this.delay * 2);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retry);
    if (this.ws) this.ws.close(1000);
  }
}
