// ticket.js: owns reading signed tickets and revocation lists in the
// browser, so a gate can check a ticket with no network. It mirrors
// crates/core/src/ticket.rs and checkin.rs byte for byte, and is as strict:
// base32 upper case with no padding and zero unused bits; LEB128 varints in
// their one shortest form; version 1 only; nothing after the signature.
// Signatures are ed25519 over a domain tag and the payload, checked with
// WebCrypto (crypto.subtle, which a browser offers only on a secure origin:
// https or localhost). Numbers that may be u64 (sale, ticket, holder) are
// BigInt; u32 ones (place, generation) are Number.

const enc = new TextEncoder();
/** Signed before a ticket's payload (ticket.rs TICKET_DOMAIN). */
const TICKET_DOMAIN = enc.encode('stampede-ticket-v1');
/** Signed before a revocation list (checkin.rs REVOCATION_LIST_DOMAIN). */
const LIST_DOMAIN = enc.encode('stampede-revocations-v1');
const SIGNATURE_LEN = 64;
const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffffn;
/** The longest payload: two kind bytes, three u64 and two u32 varints. */
const PAYLOAD_LEN_MAX = 1 + 10 + 10 + 1 + 5 + 10 + 5;
const TICKET_LEN_MAX = PAYLOAD_LEN_MAX + SIGNATURE_LEN;
/** The longest QR text: base32 of the longest ticket. */
export const QR_LEN_MAX = Math.ceil((TICKET_LEN_MAX * 8) / 5);

/** Why bytes are not a ticket or a list; `code` is what the page shows. */
export class FormatError extends Error {
  constructor(detail) {
    super(detail);
    this.code = 'bad-signature';
  }
}

/** Strict RFC 4648 base32 (ticket.rs base32_decode). */
export function base32Decode(text) {
  // Lengths whose leftover bits (5n mod 8) are 5 or more encode no string.
  if ([1, 3, 6].includes(text.length % 8)) throw new FormatError('base32 length');
  const out = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let v;
    if (c >= 65 && c <= 90) v = c - 65;
    else if (c >= 50 && c <= 55) v = c - 50 + 26;
    else throw new FormatError('base32 symbol');
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  if (acc & ((1 << bits) - 1)) throw new FormatError('base32 padding bits');
  return Uint8Array.from(out);
}

/** base64url (no padding) as the gate kit carries keys and lists. */
export function base64urlDecode(text) {
  const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

/** A cursor whose every read refuses what is not canonical (ticket.rs Reader). */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }

  byte() {
    if (this.at >= this.bytes.length) throw new FormatError('truncated');
    return this.bytes[this.at++];
  }

  /** An unsigned LEB128 number no larger than `max`, in its shortest form. */
  varint(max = U64_MAX) {
    let value = 0n;
    for (let i = 0n; i < 10n; i++) {
      const b = this.byte();
      const bits = BigInt(b & 0x7f);
      // The tenth byte may carry only the top bit of a u64.
      if (i === 9n && bits > 1n) throw new FormatError('varint too wide');
      value |= bits << (7n * i);
      if ((b & 0x80) === 0) {
        // A zero last byte after others is a padded (longer) form.
        if (i > 0n && bits === 0n) throw new FormatError('varint padded');
        if (value > max) throw new FormatError('varint too large');
        return value;
      }
    }
    throw new FormatError('varint too long');
  }

  u32() {
    return Number(this.varint(U32_MAX));
  }
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const keys = new Map();

/** The sale's public key (32 raw bytes, base64url) as a WebCrypto key, imported once. */
export function importKey(publicKey) {
  if (!keys.has(publicKey)) {
    if (!globalThis.crypto?.subtle) return Promise.reject(new Error('no-webcrypto'));
    const p = crypto.subtle.importKey('raw', base64urlDecode(publicKey), { name: 'Ed25519' }, false, ['verify']);
    // A failed import is not kept, so the next call tries again.
    p.catch(() => keys.delete(publicKey));
    keys.set(publicKey, p);
  }
  return keys.get(publicKey);
}

/**
 * Reads QR text and checks its signature with `key`. Resolves to the
 * payload `{ sale, ticket, holder: BigInt, place: { kind: 'unit'|'seat', id },
 * generation }`; rejects with a FormatError (code `bad-signature`) for
 * anything that is not a ticket signed by that key.
 */
export async function openTicket(text, key) {
  if (text.length > QR_LEN_MAX) throw new FormatError('too long');
  const bytes = base32Decode(text);
  if (bytes.length > TICKET_LEN_MAX) throw new FormatError('too long');
  const r = new Reader(bytes);
  if (r.byte() !== 1) throw new FormatError('version');
  const sale = r.varint();
  const ticket = r.varint();
  const kind = r.byte();
  if (kind !== 0 && kind !== 1) throw new FormatError('place kind');
  const place = { kind: kind === 0 ? 'unit' : 'seat', id: r.u32() };
  const holder = r.varint();
  const generation = r.u32();
  const used = r.at;
  if (bytes.length - used !== SIGNATURE_LEN) throw new FormatError('signature length');
  const signed = concat(TICKET_DOMAIN, bytes.subarray(0, used));
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes.subarray(used), signed);
  if (!ok) throw new FormatError('signature');
  return { sale, ticket, place, holder, generation };
}

/**
 * A signed revocation list (checkin.rs RevocationList::open): resolves to
 * `{ sale, revision: BigInt, revocations: Map<ticket string, 0 | generation> }`,
 * where 0 means refunded (every generation revoked) and g means every
 * generation below g is revoked.
 */
export async function openRevocationList(bytes, key) {
  if (bytes.length < SIGNATURE_LEN) throw new FormatError('list truncated');
  const split = bytes.length - SIGNATURE_LEN;
  const list = bytes.subarray(0, split);
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes.subarray(split), concat(LIST_DOMAIN, list));
  if (!ok) throw new FormatError('list signature');
  const r = new Reader(list);
  if (r.byte() !== 1) throw new FormatError('list version');
  const sale = r.varint();
  const revision = r.varint();
  // Every entry takes at least two bytes, so a count past that is a lie.
  const count = Number(r.varint(BigInt(Math.floor((list.length - r.at) / 2))));
  const revocations = new Map();
  let last = 0n;
  for (let i = 0; i < count; i++) {
    const gap = r.varint();
    if (gap === 0n) throw new FormatError('list not ascending');
    const ticket = last + gap;
    if (ticket > U64_MAX) throw new FormatError('list not ascending');
    const generation = r.u32();
    if (generation === 1) throw new FormatError('list generation 1');
    revocations.set(ticket.toString(), generation);
    last = ticket;
  }
  if (r.at !== list.length) throw new FormatError('list trailing bytes');
  return { sale, revision, revocations };
}

/**
 * What the list says of a ticket whose signature was checked: null when it
 * may go in, else the reason code the check-in API uses.
 */
export function revocationReason(list, payload) {
  if (payload.sale !== list.sale) return 'wrong-sale';
  const revoked = list.revocations.get(payload.ticket.toString());
  if (revoked === undefined) return null;
  if (revoked === 0) return 'ticket-revoked';
  return payload.generation >= revoked ? null : 'ticket-superseded';
}
