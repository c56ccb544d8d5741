// clock.js: owns the server clock. It measures the offset between this
// browser's clock and the sales' clock NTP-style (MISSION B5): eight samples
// over one WebSocket (`/api/time/ws`), the one with the shortest round trip
// wins, assuming the server read its clock halfway through; if the socket
// cannot be used, five samples over GET /api/time instead. serverNow() is the
// server's time in ms.

let offsetMs = 0;
let rttMs = null;
let via = null;
let pending = null;

/** The server's clock now, in milliseconds since the Unix epoch. */
export function serverNow() {
  return Date.now() + offsetMs;
}

/** What the last measurement found: { offsetMs, rttMs, via } (rttMs null if none). */
export function clockQuality() {
  return { offsetMs, rttMs, via };
}

/** Measures once per page; later calls share the first measurement. */
export function syncClock(samples = 8) {
  if (!pending) pending = measure(samples);
  return pending;
}

async function measure(samples) {
  let best = await overSocket(samples).catch(() => null);
  if (best) {
    via = 'ws';
  } else {
    best = await overHttp(5);
    via = best ? 'http' : null;
  }
  if (best) {
    offsetMs = best.offset;
    rttMs = best.rtt;
  }
  return { offsetMs, rttMs, via };
}

/** Keeps the sample with the shortest round trip. */
function better(best, wall0, rtt, serverUs) {
  const offset = Number(serverUs) / 1000 - (wall0 + rtt / 2);
  if (!Number.isFinite(offset)) return best;
  return !best || rtt < best.rtt ? { rtt, offset } : best;
}

function overSocket(samples) {
  return new Promise((resolve, reject) => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/time/ws`);
    let best = null;
    let sent = 0;
    let wall0 = 0;
    let t0 = 0;
    const timer = setTimeout(() => { ws.close(); best ? resolve(best) : reject(new Error('timeout')); }, 3000);
    const ask = () => {
      sent += 1;
      wall0 = Date.now();
      t0 = performance.now();
      ws.send(String(sent));
    };
    ws.onopen = ask;
    ws.onerror = () => { clearTimeout(timer); best ? resolve(best) : reject(new Error('socket')); };
    ws.onmessage = (ev) => {
      const rtt = performance.now() - t0;
      try {
        const body = JSON.parse(ev.data);
        if (body.tag === String(sent)) best = better(best, wall0, rtt, body.server_time_us);
      } catch {
        // An unreadable answer is one lost sample.
      }
      if (sent < samples) {
        ask();
      } else {
        clearTimeout(timer);
        ws.close();
        best ? resolve(best) : reject(new Error('no sample'));
      }
    };
  });
}

async function overHttp(samples) {
  let best = null;
  for (let i = 0; i < samples; i++) {
    const wall0 = Date.now();
    const t0 = performance.now();
    try {
      const res = await fetch('/api/time', { cache: 'no-store', credentials: 'same-origin' });
      if (!res.ok) continue;
      const body = await res.json();
      best = better(best, wall0, performance.now() - t0, body.server_time_us);
    } catch {
      // A lost sample is fine; the others decide.
    }
  }
  return best;
}
