// hlc.js — the tablet's hybrid logical clock (§2.2, §2.3 of docs/protocol.md).
//
// A change is stamped [ms, counter]: ms is the larger of the wall clock and
// the newest time this tablet has seen (its own stamps and the server's
// welcome.time), so a tablet whose clock runs behind still stamps after what
// it has heard from the server, and two stamps of one tablet never tie.
// Pure functions on a plain {ms, counter} object that store.js keeps in
// IndexedDB with the change it stamps (one transaction), so a reload never
// hands out a stamp twice.

// The stamp for a new change made at wall-clock `now` after clock c.
export function hlcTick(c, now) {
  if (now > c.ms) return { ms: now, counter: 0 };
  return { ms: c.ms, counter: c.counter + 1 };
}

// The clock after hearing a server time: it never goes backwards.
export function hlcMerge(c, serverMs) {
  if (Number.isFinite(serverMs) && serverMs > c.ms) return { ms: serverMs, counter: 0 };
  return c;
}

// <0, 0, >0 as a is before, equal to, after b.
export function hlcCompare(a, b) {
  return a.ms !== b.ms ? a.ms - b.ms : a.counter - b.counter;
}

export const HLC_ZERO = Object.freeze({ ms: 0, counter: 0 });
