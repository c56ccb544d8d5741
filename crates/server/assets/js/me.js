// me.js: owns the buttons of "my page". Confirming or cancelling a hold
// (stock or seats) and refunding an order through the JSON API; after a
// change the page reloads, with the outcome shown as a message. Also the
// Friends panel: sending a request by e-mail, accepting or declining the
// requests to me, removing a friend or withdrawing my request, drawn from
// GET /api/me/friends and redrawn after each change.

import { api, command, t, problemMessage, showMessage, isoToMs, dateTime } from './app.js';

const FLASH = 'stampede.flash';
const message = document.getElementById('me-message');

function route(row, action) {
  const { kind, sale, hold, order } = row.dataset;
  const base = kind === 'seated' ? `/api/sales/${sale}/seats` : `/api/sales/${sale}`;
  if (action === 'confirm') return ['POST', `${base}/holds/${hold}/confirm`, t('me.confirmed')];
  if (action === 'cancel') return ['DELETE', `${base}/holds/${hold}`, t('me.cancelled')];
  if (action === 'refund') return ['POST', `${base}/orders/${order}/refund`, t('me.refunded')];
  return null;
}

document.addEventListener('click', async (ev) => {
  const button = ev.target.closest('button[data-action]');
  const row = button?.closest('li.row');
  if (!button || !row) return;
  const action = button.dataset.action;
  const what = route(row, action);
  if (!what) return;
  if (action === 'refund' && !window.confirm(t('me.confirm_refund'))) return;
  for (const b of row.querySelectorAll('button')) b.disabled = true;
  const r = await command(what[0], what[1]);
  if (r.ok) {
    sessionStorage.setItem(FLASH, what[2]);
    location.reload();
    return;
  }
  for (const b of row.querySelectorAll('button')) b.disabled = false;
  showMessage(message, problemMessage(r.problem), 'error');
});

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
      showMessage(friendsMessage, t(key, { name: r.data.user.name }), 'ok');
      await loadFriends();
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
      showMessage(friendsMessage, t(done), 'ok');
      await loadFriends();
    } else {
      for (const b of row.querySelectorAll('button')) b.disabled = false;
      showMessage(friendsMessage, problemMessage(r.problem), 'error');
    }
  });
  loadFriends();
}
