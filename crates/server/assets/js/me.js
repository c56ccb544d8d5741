// me.js: owns the buttons of "my page". Paying for (with the wallet) or
// cancelling a hold (stock or seats) and refunding an order through the JSON API; for a seat
// hold or order also giving back one seat, or changing one for a free seat
// chosen from the sale's live seat map (GET .../venue and .../seats, free
// seats of one section at a time, grouped by row). After a change the page
// reloads, with the outcome shown as a message. Also the
// Friends panel: sending a request by e-mail, accepting or declining the
// requests to me, removing a friend or withdrawing my request, drawn from
// GET /api/me/friends and redrawn after each change.

import { api, command, t, problemMessage, showMessage, isoToMs, dateTime, money } from './app.js';

const FLASH = 'stampede.flash';
const message = document.getElementById('me-message');

/** [method, path, flash, body] of a row's action; `seat` is the seat's <li> for one-seat actions. */
function route(row, action, seat) {
  const { kind, sale, hold, order } = row.dataset;
  const base = kind === 'seated' ? `/api/sales/${sale}/seats` : `/api/sales/${sale}`;
  // Paying with the wallet confirms (a free hold is confirmed the same way).
  if (action === 'confirm') return ['POST', `/api/sales/${sale}/holds/${hold}/pay`, t('me.confirmed'), { provider: 'wallet' }];
  if (action === 'cancel') return ['DELETE', `${base}/holds/${hold}`, t('me.cancelled')];
  if (action === 'refund') return ['POST', `${base}/orders/${order}/refund`, t('me.refunded')];
  if (action === 'release' && seat) {
    return ['POST', `${base}/holds/${hold}/release`, t('me.released', { seat: seat.dataset.seatName }), { seat: Number(seat.dataset.seat) }];
  }
  if (action === 'swap' && seat) {
    const pick = seat.querySelector('select[data-swap-to]');
    if (!pick?.value) return null;
    const to = pick.selectedOptions[0].dataset.name;
    return ['POST', `${base}/holds/${hold}/swap`, t('me.swapped', { from: seat.dataset.seatName, to }), { from: Number(seat.dataset.seat), to: Number(pick.value) }];
  }
  return null;
}

document.addEventListener('click', async (ev) => {
  const button = ev.target.closest('button[data-action]');
  const row = button?.closest('li.row');
  if (!button || !row) return;
  const action = button.dataset.action;
  const seat = button.closest('li.seat-item');
  if (action === 'swap-open' || action === 'swap-keep') {
    toggleSwap(row, seat, action === 'swap-open');
    return;
  }
  const what = route(row, action, seat);
  if (!what) return;
  if (action === 'refund' && !window.confirm(t('me.confirm_refund'))) return;
  if (action === 'release' && !window.confirm(t('me.confirm_release', { seat: seat.dataset.seatName }))) return;
  for (const b of row.querySelectorAll('button, select')) b.disabled = true;
  const r = await command(what[0], what[1], what[3] ? { body: what[3] } : {});
  if (r.ok) {
    sessionStorage.setItem(FLASH, what[2]);
    location.reload();
    return;
  }
  for (const b of row.querySelectorAll('button, select')) b.disabled = false;
  showMessage(message, problemMessage(r.problem), 'error');
});

// ---- Changing one seat ----

/** Each sale's venue, fetched once: it never changes. */
const venues = new Map();

async function venueOf(sale) {
  if (!venues.has(sale)) {
    const r = await api('GET', `/api/sales/${sale}/venue`);
    if (!r.ok) return r;
    venues.set(sale, r);
  }
  return venues.get(sale);
}

function el(name, attrs = {}, text) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Fills the seat select with the free seats of section `i`, one group per row. */
function fillSeats(pick, venue, taken, i) {
  const isTaken = (id) => ((taken[id >> 3] || 0) & (1 << (id & 7))) !== 0;
  const s = venue.sections[i];
  const groups = [];
  for (const row of s?.rows || []) {
    const group = el('optgroup', { label: row.label });
    row.seats.forEach(([label], k) => {
      const id = row.first_seat + k;
      if (isTaken(id)) return;
      const name = `${s.name} ${row.label}-${label}`;
      const o = new Option(name, String(id));
      o.dataset.name = name;
      group.append(o);
    });
    if (group.children.length) groups.push(group);
  }
  pick.replaceChildren(...groups);
  return groups.length > 0;
}

/** Opens (or closes) the form that changes one seat for a free one. */
async function toggleSwap(row, seat, open) {
  const opener = seat.querySelector('[data-action="swap-open"]');
  seat.querySelector('.swap')?.remove();
  opener.setAttribute('aria-expanded', String(open));
  if (!open) {
    opener.focus();
    return;
  }
  const box = el('div', { class: 'swap' });
  const note = el('p', { class: 'hint', role: 'status' }, t('me.swap_loading'));
  box.append(note);
  seat.append(box);
  const sale = row.dataset.sale;
  const [v, map] = await Promise.all([venueOf(sale), api('GET', `/api/sales/${sale}/seats`)]);
  if (!v.ok || !map.ok) {
    note.textContent = problemMessage((v.ok ? map : v).problem);
    return;
  }
  const venue = v.data;
  const raw = atob(map.data.taken || '');
  const taken = new Uint8Array(raw.length);
  for (let k = 0; k < raw.length; k++) taken[k] = raw.charCodeAt(k);
  const currency = row.dataset.currency || 'KRW';
  const uid = `swap-${row.dataset.hold}-${seat.dataset.seat}`;
  const sectionPick = el('select', { id: `${uid}-section`, 'data-swap-section': '' });
  venue.sections.forEach((s, i) => {
    const free = map.data.sections?.[i];
    const text = `${s.name} · ${money(s.price, currency)}`;
    sectionPick.append(new Option(text, String(i), false, s.name === seat.dataset.sectionName));
    if (free === 0) sectionPick.options[i].disabled = true;
  });
  const seatPick = el('select', { id: `${uid}-to`, 'data-swap-to': '' });
  const go = el('button', { type: 'button', class: 'primary', 'data-action': 'swap' }, t('me.swap_go'));
  const keep = el('button', { type: 'button', 'data-action': 'swap-keep' }, t('me.swap_keep'));
  const refill = () => {
    const any = fillSeats(seatPick, venue, taken, Number(sectionPick.value));
    go.disabled = !any;
    note.textContent = any ? '' : t('me.swap_none');
    note.hidden = any;
  };
  sectionPick.addEventListener('change', refill);
  const actions = el('span', { class: 'actions' });
  actions.append(go, keep);
  box.replaceChildren(
    el('label', { for: sectionPick.id }, t('me.swap_section')), sectionPick,
    el('label', { for: seatPick.id }, t('me.swap_to')), seatPick,
    note, actions,
  );
  refill();
  seatPick.focus();
}

const flash = sessionStorage.getItem(FLASH);
if (flash) {
  sessionStorage.removeItem(FLASH);
  showMessage(message, flash, 'ok');
}

// ---- Friends ----

const friendsMessage = document.getElementById('friends-message');

/** One person's row: their name, a note, and buttons named by `data-friend-action`. */
function personRow(person, note, actions) {
  const li = document.createElement('li');
  li.className = 'row friend';
  li.dataset.user = String(person.id);
  const name = document.createElement('strong');
  name.textContent = person.name;
  li.append(name);
  if (note) {
    const span = document.createElement('span');
    span.className = 'when';
    span.textContent = note;
    li.append(span);
  }
  const box = document.createElement('span');
  box.className = 'actions';
  for (const [action, label, primary] of actions) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.friendAction = action;
    b.textContent = label;
    if (primary) b.className = 'primary';
    box.append(b);
  }
  li.append(box);
  return li;
}

function fill(list, rows, empty) {
  if (!list) return;
  list.replaceChildren(...rows);
  if (!rows.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = empty;
    list.append(li);
  }
}

const when = (iso) => {
  const ms = isoToMs(iso);
  return Number.isFinite(ms) ? dateTime(ms) : '';
};

async function loadFriends() {
  const r = await api('GET', '/api/me/friends');
  if (!r.ok) {
    showMessage(friendsMessage, problemMessage(r.problem), 'error');
    return;
  }
  const f = r.data;
  fill(
    document.getElementById('friends-incoming'),
    f.incoming.map((p) => personRow(p, t('friends.asked_at', { time: when(p.requested_at) }), [['accept', t('friends.accept'), true], ['decline', t('friends.decline')]])),
    t('friends.no_incoming'),
  );
  fill(
    document.getElementById('friends-list'),
    f.friends.map((p) => personRow(p, t('friends.since', { time: when(p.since) }), [['remove', t('friends.remove')]])),
    t('friends.no_friends'),
  );
  fill(
    document.getElementById('friends-outgoing'),
    f.outgoing.map((p) => personRow(p, t('friends.asked_at', { time: when(p.requested_at) }), [['withdraw', t('friends.withdraw')]])),
    t('friends.no_outgoing'),
  );
}

const profileForm = document.getElementById('profile-form');
if (profileForm) {
  profileForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = document.getElementById('profile-name');
    const message = document.getElementById('me-message');
    const r = await api('PUT', '/api/me', { body: { name: input.value } });
    if (r.ok) {
      document.getElementById('me-name').textContent = r.data.name;
      input.value = r.data.name;
      showMessage(message, t('me.name_saved'), 'ok');
    } else {
      showMessage(message, problemMessage(r.problem), 'error');
    }
  });
}

const friendForm = document.getElementById('friend-form');
if (friendForm) {
  friendForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = document.getElementById('friend-email');
    const email = input.value.trim();
    if (!email) {
      showMessage(friendsMessage, t('friends.email_required'), 'error');
      return;
    }
    const button = document.getElementById('friend-add');
    button.disabled = true;
    const r = await command('POST', '/api/me/friends', { body: { email } });
    button.disabled = false;
    if (r.ok) {
      input.value = '';
      const key = r.data.state === 'friends' ? 'friends.now_friends' : 'friends.sent';
      // The list first, then the message: whoever reads "Request sent" finds it listed.
      await loadFriends();
      showMessage(friendsMessage, t(key, { name: r.data.user.name }), 'ok');
    } else {
      const text = r.status === 404 ? t('friends.no_account') : problemMessage(r.problem);
      showMessage(friendsMessage, text, 'error');
    }
  });

  document.getElementById('my-friends').addEventListener('click', async (ev) => {
    const button = ev.target.closest('button[data-friend-action]');
    const row = button?.closest('li[data-user]');
    if (!button || !row) return;
    const id = row.dataset.user;
    const action = button.dataset.friendAction;
    if (action === 'remove' && !window.confirm(t('friends.confirm_remove'))) return;
    const [method, path, done] = {
      accept: ['POST', `/api/me/friends/${id}/accept`, 'friends.accepted'],
      decline: ['POST', `/api/me/friends/${id}/decline`, 'friends.declined'],
      remove: ['DELETE', `/api/me/friends/${id}`, 'friends.removed'],
      withdraw: ['DELETE', `/api/me/friends/${id}`, 'friends.withdrawn'],
    }[action];
    for (const b of row.querySelectorAll('button')) b.disabled = true;
    const r = await command(method, path);
    if (r.ok) {
      await loadFriends();
      showMessage(friendsMessage, t(done), 'ok');
    } else {
      for (const b of row.querySelectorAll('button')) b.disabled = false;
      showMessage(friendsMessage, problemMessage(r.problem), 'error');
    }
  });
  loadFriends();
}
