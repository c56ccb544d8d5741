// drop.js: owns a first-come drop's page. The countdown to opening on the
// server's clock (clock.js measures the offset NTP-style), the big button
// that clicks (POST /api/sales/{id}/clicks) and shows your rank and the
// time after opening (duration: 7 min 17.078 s) from the answer, the live numbers
// and the leaderboard, pushed over the page's live socket (live.js: `status`
// and `drop` messages); GET /api/sales/{id} and GET .../leaderboard only
// while the socket is down.

import { api, command, t, tn, number, duration, problemMessage, problemSlug, countdownText, showMessage, userId } from './app.js';
import { serverNow, syncClock, clockQuality } from './clock.js';
import { subscribe, isLive } from './live.js';

const $ = (id) => document.getElementById(id);
const root = $('sale');
const saleId = root.dataset.saleId;
const button = $('drop-button');
const message = $('drop-message');
const storeKey = `stampede.click.${saleId}.${userId()}`;

let status = root.dataset.status;
let opensAtMs = Number(root.dataset.opensAtUs) / 1000 || 0;
let clicked = null;
let clicking = false;
/** The leaderboard entries on screen, to mark my row once my click's answer comes. */
let shownEntries = null;

function readStored() {
  try {
    return JSON.parse(sessionStorage.getItem(storeKey) || 'null');
  } catch {
    return null;
  }
}

function showClick(c) {
  clicked = c;
  // The pushed leaderboard with this click usually arrives before the click's
  // own answer: mark my row in what is shown already.
  if (shownEntries) showBoard(shownEntries);
  $('click-result').hidden = false;
  $('click-rank').textContent = t('drop.your_rank', { n: number(c.rank) });
  $('click-ms').textContent = t('drop.ms_after', { n: duration(c.after_open_ms) });
  $('click-outcome').textContent = c.won ? `${t('drop.won')} ${t('me.order_ref')} ${c.reference}` : tn('drop.lost', c.winners);
  $('click-result').dataset.won = String(c.won);
  if (button) {
    button.disabled = true;
    button.textContent = t('drop.clicked');
  }
}

function tick() {
  const now = serverNow();
  let label = '';
  let value = '';
  let open = false;
  if (status === 'closed') label = t('drop.closed');
  else if (opensAtMs && now < opensAtMs) {
    label = t('drop.opens_in');
    value = countdownText(opensAtMs - now);
  } else if (!opensAtMs && status === 'scheduled') label = t('drop.tba');
  else {
    label = t('drop.open_now');
    open = true;
  }
  $('countdown-label').textContent = label;
  $('countdown-value').textContent = value;
  if (open && root.dataset.open === 'false') setTimeout(refreshSale, 150);
  root.dataset.open = String(open);
  if (button && !clicked && !clicking) button.disabled = !open;
}

async function onClick() {
  if (clicked || clicking) return;
  clicking = true;
  button.disabled = true;
  button.textContent = t('drop.clicking');
  const r = await command('POST', `/api/sales/${saleId}/clicks`);
  clicking = false;
  if (r.ok) {
    showMessage(message, '');
    showClick(r.data);
    try {
      sessionStorage.setItem(storeKey, JSON.stringify(r.data));
    } catch {
      // Private mode: the answer is on screen anyway.
    }
    if (!isLive()) {
      refreshBoard();
      refreshSale();
    }
    return;
  }
  button.textContent = t('drop.button');
  showMessage(message, problemMessage(r.problem), 'error');
  if (problemSlug(r.problem) === 'not-open-yet') setTimeout(tick, 200);
  tick();
}

function showStatus(s) {
  status = s;
  $('sale-status').textContent = t(`status.${s}`);
  $('sale-status').className = `badge status-${s}`;
}

function showCounts(d) {
  $('drop-left').textContent = tn('drop.left', Math.max(0, d.winners - d.won));
  $('drop-clicks').textContent = tn('drop.clicks', d.clicks);
}

async function refreshSale() {
  const r = await api('GET', `/api/sales/${saleId}`);
  if (!r.ok) return;
  const s = r.data;
  if (s.opens_at) opensAtMs = Date.parse(s.opens_at.replace(/(\.\d{3})\d+/, '$1'));
  showStatus(s.status);
  if (s.drop) showCounts(s.drop);
}

async function refreshBoard() {
  const r = await api('GET', `/api/sales/${saleId}/leaderboard?limit=100`);
  if (r.ok) showBoard(r.data.entries);
}

function showBoard(entries) {
  shownEntries = entries;
  const body = $('leaderboard-body');
  const rows = entries.map((e) => {
    const tr = document.createElement('tr');
    if (clicked && e.rank === clicked.rank) tr.className = 'me';
    if (e.won) tr.classList.add('won');
    const cells = [number(e.rank), e.name, duration(e.after_open_ms), e.won ? t('drop.winner_badge') : ''];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  body.replaceChildren(...rows);
  $('leaderboard-empty').hidden = rows.length > 0;
}

if (button) button.addEventListener('click', onClick);
const stored = readStored();
if (stored) showClick(stored);
tick();
setInterval(tick, 50);
syncClock().then(({ rttMs }) => {
  if (rttMs !== null) $('clock-note').textContent = t('drop.clock_synced', { n: Math.max(1, Math.round(clockQuality().rttMs / 2)) });
  $('clock-note').dataset.via = clockQuality().via || '';
  tick();
});
subscribe(saleId, 'status', (m) => showStatus(m.status), { poll: refreshSale });
subscribe(
  saleId,
  'drop',
  (m) => {
    showCounts(m);
    showBoard(m.leaders);
  },
  { poll: refreshBoard },
);
// Once, for the opening time (the socket carries the status, not the schedule).
refreshSale();
