// api.js — the supervisors' HTTP API (docs/protocol.md §5) with the token
// kept in localStorage. A 401 from any call raises Unauthorized: the app then
// forgets the token and shows the sign-in page, never data. Every call of a
// signed-in session shares one AbortController, so that signing out cancels
// the calls still on their way (endSession).

const TOKEN_KEY = 'visitsync.token';

export class Unauthorized extends Error {}

// An answer other than 2xx and 401; code and message come from the body
// ({"error":"already_resolved"}, {"error":"bad_request","message":"…"}).
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || 'HTTP ' + status);
    this.status = status;
    this.code = code;
  }
}

let session = new AbortController();

// Ends the session: every call still on its way rejects with an AbortError
// (see aborted), and calls made from now on belong to the next session.
export function endSession() {
  session.abort();
  session = new AbortController();
}

export const aborted = (e) => e instanceof DOMException && e.name === 'AbortError';

export function getToken() { return localStorage.getItem(TOKEN_KEY); }
export function setToken(tok) { localStorage.setItem(TOKEN_KEY, tok); }
export function forgetToken() { localStorage.removeItem(TOKEN_KEY); }

// Takes a token from the address (/#token=…) into localStorage and removes it
// from the address bar and the history entry. True when there was one.
export function takeTokenFromHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const tok = params.get('token');
  if (tok === null) return false;
  history.replaceState(null, '', location.pathname + location.search);
  if (tok.trim()) setToken(tok.trim());
  return true;
}

async function call(method, path, body) {
  const tok = getToken();
  if (!tok) throw new Unauthorized('no token');
  const signal = session.signal;
  const opts = { method, headers: { Authorization: 'Bearer ' + tok }, cache: 'no-store', signal };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 401) throw new Unauthorized('unauthorized');
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  // An abort while the body was arriving ends up in the catch above.
  signal.throwIfAborted();
  if (!res.ok) throw new ApiError(res.status, data && data.error, data && data.message);
  return data;
}

export const getStatus = () => call('GET', '/api/status');
export const getReport = () => call('GET', '/api/report');
export function getConflicts(status, after) {
  const q = new URLSearchParams({ status, limit: '100' });
  if (after) q.set('after', after);
  return call('GET', '/api/conflicts?' + q);
}
export const resolveConflict = (id, body) =>
  call('POST', '/api/conflicts/' + encodeURIComponent(id) + '/resolve', body);
