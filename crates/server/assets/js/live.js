// live.js: owns a page's one live socket, GET /api/sales/{id}/live/ws. Every
// script of the page subscribes to the message types it shows (status,
// stock, drop, queue, dashboard, seats) and they all share one WebSocket. The
// server sends every stream at once, then each change. The seat map is sent
// only to whoever asks: in the address when the socket opens, or with a
// {"subscribe":"seats"} message when a script subscribes later (the seat
// page loaded by the waiting room once admitted). When the socket is
// refused or drops, each subscriber's fallback poll runs once and again
// before every new attempt to connect, the wait doubling from 1 s to 30 s;
// once the socket is open again nothing polls.

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;

/** One page, one socket: the subscriptions of every script, by message type. */
const handlers = new Map();
/** The newest message of each type, for a script that subscribes late. */
const latest = new Map();
const polls = [];
/** Streams the server sends only on request; their messages are per socket, not replayed. */
const ON_REQUEST = new Set(['seats']);
/** Those of them this page subscribed to. */
const requested = new Set();
/** Those the current socket was asked for (in its address or by a message). */
let asked = new Set();
let saleId = null;
let dashboard = false;
let socket = null;
let open = false;
let retryMs = RETRY_FIRST_MS;
let started = false;

function dispatch(message) {
  if (!ON_REQUEST.has(message.type)) latest.set(message.type, message);
  for (const handle of handlers.get(message.type) || []) {
    try {
      handle(message);
    } catch (e) {
      console.error(e);
    }
  }
}

function fallback() {
  for (const poll of polls) {
    if (!document.hidden) poll();
  }
}

/** Asks the open socket for an on-request stream (again: the server starts it over). */
function ask(type) {
  asked.add(type);
  socket.send(JSON.stringify({ subscribe: type }));
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = new URLSearchParams();
  if (dashboard) query.set('dashboard', 'true');
  for (const type of requested) query.set(type, 'true');
  const q = query.toString();
  const ws = new WebSocket(`${proto}://${location.host}/api/sales/${saleId}/live/ws${q ? `?${q}` : ''}`);
  socket = ws;
  asked = new Set(requested);
  ws.onopen = () => {
    open = true;
    retryMs = RETRY_FIRST_MS;
    document.documentElement.dataset.live = 'socket';
    // Subscribed while this socket was connecting.
    for (const type of requested) if (!asked.has(type)) ask(type);
  };
  ws.onmessage = (ev) => {
    if (ws !== socket) return;
    let message;
    try {
      message = JSON.parse(ev.data);
    } catch {
      return; // not a message of ours
    }
    dispatch(message);
  };
  ws.onclose = () => {
    if (ws !== socket) return;
    socket = null;
    open = false;
    document.documentElement.dataset.live = 'polling';
    fallback();
    setTimeout(connect, retryMs);
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  };
}

/**
 * Calls `handle(message)` for every message of `type` from the sale's live
 * socket, and `poll()` (if given) while the socket is down. `options.dashboard`
 * asks for the organizer's stream too. The socket opens once the page's
 * scripts have subscribed (after the current task).
 */
export function subscribe(sale, type, handle, { poll, dashboard: wantsDashboard = false } = {}) {
  saleId = sale;
  dashboard = dashboard || wantsDashboard;
  if (!handlers.has(type)) handlers.set(type, []);
  handlers.get(type).push(handle);
  if (poll) polls.push(poll);
  if (latest.has(type)) queueMicrotask(() => handle(latest.get(type)));
  if (ON_REQUEST.has(type) && !requested.has(type)) {
    requested.add(type);
    if (open) ask(type);
  }
  if (!started) {
    started = true;
    setTimeout(connect, 0);
  }
}

/**
 * Asks the server to start an on-request stream over (for `seats`: a new
 * snapshot), as after a gap in its seq. While the socket is down, the next
 * one starts it over anyway.
 */
export function restart(type) {
  if (open && requested.has(type)) ask(type);
}

/** Whether the socket is open now (else the page polls). */
export function isLive() {
  return open;
}
