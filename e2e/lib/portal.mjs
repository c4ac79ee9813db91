// Helpers for walking the qsmo portal as a person would.

import { createHmac } from 'node:crypto';

import { checkA11y } from './a11y.mjs';
import { pageErrors } from './browser.mjs';
import { TEST_PASSWORD } from './server.mjs';

/**
 * Goes to path (or waits for the current navigation), then checks the page
 * with axe and for console errors (CSP violations included).
 */
const seenErrors = new WeakMap();
const failedAssets = new WeakMap();

function watch(page) {
  if (failedAssets.has(page)) return;
  const list = [];
  failedAssets.set(page, list);
  page.on('response', (res) => {
    // A page answering 404 or 422 is expected (error pages, forms with
    // errors); a stylesheet, script or image that fails is a defect.
    if (res.request().resourceType() !== 'document' && res.status() >= 400) {
      list.push(`${res.status()} ${res.url()}`);
    }
  });
}

export async function visit(page, path, label) {
  watch(page);
  if (path) await page.goto(path);
  await page.waitForLoadState('domcontentloaded');
  await checkA11y(page, label);
  const all = pageErrors(page);
  const fresh = all.slice(seenErrors.get(page) ?? 0);
  seenErrors.set(page, all.length);
  // Chromium logs the document's own 4xx status as a console error; those
  // are expected here, asset failures are caught below.
  const errs = fresh.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));
  const assets = failedAssets.get(page).splice(0);
  if (errs.length > 0 || assets.length > 0) {
    throw new Error(`${label}: browser errors on ${page.url()}:\n${[...errs, ...assets].join('\n')}`);
  }
}

/** Signs in through the form and checks the sign-in page on the way. */
export async function signIn(page, email, password = TEST_PASSWORD, label = 'sign-in') {
  await visit(page, '/sign-in', label);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForLoadState('domcontentloaded');
}

/** Signs out with the header button. */
export async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.waitForURL('**/sign-in');
}

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`bad base32 character ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for a base32 secret at time ms. */
export function totp(secret, ms = Date.now()) {
  const counter = Math.floor(ms / 1000 / 30);
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32Decode(secret)).update(buf).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1_000_000).padStart(6, '0');
}

/**
 * Ticks a USWDS radio button or checkbox the way a person does, by clicking
 * its label (USWDS hides the native input behind a styled box).
 */
export async function choose(page, role, name) {
  const input = page.getByRole(role, { name });
  const id = await input.getAttribute('id');
  await page.locator(`label[for="${id}"]`).click();
  if (!(await input.isChecked()) && role === 'radio') throw new Error(`radio ${name} did not get checked`);
}
