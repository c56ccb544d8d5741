// live.js: owns a page's one live socket, GET /api/sales/{id}/live/ws. Every
// script of the page subscribes to the message types it shows (status,
// stock, drop, queue, dashboard) and they all share one WebSocket. The
// server sends every stream at once, then each change. When the socket is
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
let saleId = null;
let dashboard = false;
let socket = null;
let open = false;
let retryMs = RETRY_FIRST_MS;
let started = false;

function dispatch(message) {
  latest.set(message.type, message);
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

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = dashboard ? '?dashboard=true' : '';
  const ws = new WebSocket(`${proto}://${location.host}/api/sales/${saleId}/live/ws${query}`);
  socket = ws;
  ws.onopen = () => {
    open = true;
    retryMs = RETRY_FIRST_MS;
    document.documentElement.dataset.live = 'socket';
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
  if (!started) {
    started = true;
    setTimeout(connect, 0);
  }
}

/** Whether the socket is open now (else the page polls). */
export function isLive() {
  return open;
}
