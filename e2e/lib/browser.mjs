// One headless Debian Chromium per test process, driven by playwright-core,
// and a fresh browser context (own cookies and storage) for every page.
//
// No browser is downloaded: playwright-core runs the system Chromium through
// executablePath.

import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { SCREENSHOT_DIR, chromiumPath } from './env.mjs';

// Flags for a closed network: without the background-networking ones
// Chromium keeps trying to reach outside hosts at start. Playwright's
// launch() already gives every browser a fresh temporary profile
// (--user-data-dir) and removes it on close; it refuses a --user-data-dir
// in args, so none is passed here.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

let browserPromise = null;
const pageErrorLog = new WeakMap();

/** Returns the shared browser of this test process, launching it on first use. */
export function browser() {
  if (!browserPromise) {
    browserPromise = chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  }
  return browserPromise;
}

/**
 * Opens a page in a new browser context.
 *
 * The page's own Content-Security-Policy stays in force, as for a real
 * user: an inline script or style the policy forbids is blocked and shows up
 * in pageErrors(page). Pass bypassCSP: true only for a test that needs to
 * run outside the policy.
 *
 * @param {object} [opts]
 * @param {string} [opts.baseURL] base for relative page.goto() URLs
 * @param {boolean} [opts.bypassCSP]
 * @param {{width:number,height:number}} [opts.viewport]
 * @returns {Promise<import('playwright-core').Page>}
 */
export async function newPage(opts = {}) {
  const b = await browser();
  const context = await b.newContext({
    baseURL: opts.baseURL,
    bypassCSP: opts.bypassCSP ?? false,
    viewport: opts.viewport ?? { width: 1280, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors = [];
  pageErrorLog.set(page, errors);
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  // Closing the page ends its context too, so contexts never pile up.
  page.once('close', () => {
    context.close().catch(() => {});
  });
  return page;
}

/**
 * Returns the console errors and uncaught exceptions seen on the page so far,
 * including Content-Security-Policy violations, which Chromium reports as
 * console errors ("Refused to execute inline script ...").
 *
 * @param {import('playwright-core').Page} page
 * @returns {string[]}
 */
export function pageErrors(page) {
  return [...(pageErrorLog.get(page) ?? [])];
}

/**
 * Saves a full-page PNG under e2e/screenshots/ and returns its path.
 *
 * @param {import('playwright-core').Page} page
 * @param {string} name file name without extension; other than letters,
 *   digits, dot, dash and underscore become dashes
 * @returns {Promise<string>}
 */
export async function screenshot(page, name) {
  const safe = String(name).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'page';
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${safe}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Closes the shared browser; call it from an after() hook of each test file. */
export async function closeBrowser() {
  if (!browserPromise) return;
  const p = browserPromise;
  browserPromise = null;
  const b = await p.catch(() => null);
  if (b) await b.close();
}
