// clock.js: owns the server clock. It measures the offset between this
// browser's clock and the sales' clock NTP-style over GET /api/time (five
// samples; the one with the shortest round trip wins, assuming the server read
// its clock halfway through) and gives serverNow(), the server's time in ms.

let offsetMs = 0;
let rttMs = null;
let pending = null;

/** The server's clock now, in milliseconds since the Unix epoch. */
export function serverNow() {
  return Date.now() + offsetMs;
}

/** What the last measurement found: { offsetMs, rttMs } (rttMs null if none). */
export function clockQuality() {
  return { offsetMs, rttMs };
}

/** Measures once per page; later calls share the first measurement. */
export function syncClock(samples = 5) {
  if (!pending) pending = measure(samples);
  return pending;
}

async function measure(samples) {
  let best = null;
  for (let i = 0; i < samples; i++) {
    const wall0 = Date.now();
    const t0 = performance.now();
    try {
      const res = await fetch('/api/time', { cache: 'no-store', credentials: 'same-origin' });
      if (!res.ok) continue;
      const body = await res.json();
      const rtt = performance.now() - t0;
      const serverMs = Number(body.server_time_us) / 1000;
      const offset = serverMs - (wall0 + rtt / 2);
      if (Number.isFinite(offset) && (!best || rtt < best.rtt)) best = { rtt, offset };
    } catch {
      // A lost sample is fine; the others decide.
    }
  }
  if (best) {
    offsetMs = best.offset;
    rttMs = best.rtt;
  }
  return { offsetMs, rttMs };
}
