// auth.js: owns the sign-up and log-in forms. It posts them to
// /api/auth/signup and /api/auth/login, shows the API's problems inline in the
// viewer's language (an unknown email offers sign-up, a taken one log-in, a
// guessable password says why, too many attempts say how long to wait), and
// then goes on to the local page the viewer came from.

import { api, t, problemMessage, problemSlug } from './app.js';

const form = document.querySelector('form[data-mode]');
if (form) form.addEventListener('submit', submit);

function localNext(raw) {
  return raw && raw.startsWith('/') && !raw.startsWith('//') && !raw.startsWith('/\\') ? raw : '/';
}

function showError(text, link) {
  const el = form.querySelector('#form-error');
  el.textContent = text;
  if (link) {
    el.append(' ');
    const a = document.createElement('a');
    a.href = `${link.href}?next=${encodeURIComponent(localNext(form.dataset.next))}`;
    a.textContent = link.text;
    a.id = 'error-link';
    el.append(a);
  }
  el.hidden = false;
}

async function submit(ev) {
  ev.preventDefault();
  const mode = form.dataset.mode;
  const field = (name) => form.elements.namedItem(name);
  const email = field('email').value.trim();
  const password = field('password').value;
  const name = mode === 'signup' ? field('name').value.trim() : '';
  let invalid = null;
  if (mode === 'signup' && !name) invalid = ['name', t('auth.check_name')];
  else if (!/^[^\s@]+@[^\s@]+$/.test(email)) invalid = ['email', t('auth.check_email')];
  else if (mode === 'signup' && (password.length < 8 || password.length > 128)) invalid = ['password', t('auth.check_password')];
  else if (!password) invalid = ['password', t('auth.check_password_empty')];
  if (invalid) {
    showError(invalid[1]);
    field(invalid[0]).focus();
    return;
  }
  const button = form.querySelector('#submit');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = t(mode === 'login' ? 'auth.signing_in' : 'auth.signing_up');
  form.querySelector('#form-error').hidden = true;
  const body = mode === 'login' ? { email, password } : { email, password, name };
  const r = await api('POST', `/api/auth/${mode}`, { body });
  if (r.ok) {
    location.assign(localNext(form.dataset.next));
    return;
  }
  button.disabled = false;
  button.textContent = label;
  const slug = problemSlug(r.problem);
  if (slug === 'unknown-account') showError(problemMessage(r.problem), { href: '/signup', text: t('auth.signup_instead') });
  else if (slug === 'email-taken') showError(problemMessage(r.problem), { href: '/login', text: t('auth.login_instead') });
  else if (slug === 'weak-password') {
    // The API names the reason as a stable code; say it in the viewer's language.
    const why = `password.${r.problem.reason}`;
    showError(`${problemMessage(r.problem)} ${t(why) === why ? t('password.guessable') : t(why)}`);
    field('password').focus();
  } else if (slug === 'too-many-attempts') showError(t('auth.too_many_attempts', { s: r.retryAfter || 1 }));
  else showError(problemMessage(r.problem));
}
