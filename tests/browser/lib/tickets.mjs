// tickets.mjs: signs tickets and revocation lists in node for the browser
// tests, in the format of crates/core/src/ticket.rs and checkin.rs (ed25519
// over a domain tag and LEB128 varints; QR text in upper-case base32 without
// padding). The gate spec first checks it against ticket.rs's pinned test
// vector, so a drift between the two fails there, not in a confusing page.
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';

const TICKET_DOMAIN = Buffer.from('stampede-ticket-v1');
const LIST_DOMAIN = Buffer.from('stampede-revocations-v1');

/** A signing key from its 32-byte seed (PKCS #8 wraps it in a fixed prefix). */
export function keyFromSeed(seed) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { privateKey, publicKey: jwk.x };
}

function putVarint(out, n) {
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/** The payload: { sale, ticket, place: { seat } | { unit }, holder, generation }. */
export function encodePayload({ sale, ticket, place, holder, generation }) {
  const out = [1];
  putVarint(out, sale);
  putVarint(out, ticket);
  if (place.seat !== undefined) {
    out.push(1);
    putVarint(out, place.seat);
  } else {
    out.push(0);
    putVarint(out, place.unit);
  }
  putVarint(out, holder);
  putVarint(out, generation);
  return Buffer.from(out);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32(bytes) {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** A ticket's QR text. */
export function ticketText(payload, key) {
  const p = encodePayload(payload);
  const signature = sign(null, Buffer.concat([TICKET_DOMAIN, p]), key.privateKey);
  return base32(Buffer.concat([p, signature]));
}

/** A signed revocation list, base64url: `revocations` is [[ticket, 0 (refunded) | valid generation], ...] rising. */
export function signedList({ sale, revision, revocations }, key) {
  const out = [1];
  putVarint(out, sale);
  putVarint(out, revision);
  putVarint(out, revocations.length);
  let last = 0;
  for (const [ticket, generation] of revocations) {
    putVarint(out, ticket - last);
    putVarint(out, generation);
    last = ticket;
  }
  const list = Buffer.from(out);
  const signature = sign(null, Buffer.concat([LIST_DOMAIN, list]), key.privateKey);
  return Buffer.concat([list, signature]).toString('base64url');
}
