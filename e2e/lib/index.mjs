// The browser-test harness: start the server, open pages in headless
// Chromium, check accessibility, take screenshots.
//
//   import { after, before, describe, test } from 'node:test';
//   import { checkA11y, closeBrowser, newPage, requireComponents, startServer } from '../lib/index.mjs';
//
//   const skip = requireComponents({ chromium: true, qsmo: true });
//   describe('home page', { skip }, () => {
//     let server;
//     before(async () => { server = await startServer(); });
//     after(async () => { await closeBrowser(); await server?.stop(); });
//     test('is accessible', async () => {
//       const page = await newPage({ baseURL: server.baseURL });
//       await page.goto('/');
//       await checkA11y(page, 'home');
//     });
//   });

export { checkA11y, formatViolations, WCAG_TAGS } from './a11y.mjs';
export { browser, closeBrowser, newPage, pageErrors, screenshot } from './browser.mjs';
export { E2E_DIR, RESULTS_DIR, SCREENSHOT_DIR, chromiumPath, inCI, qsmoPath, requireComponents } from './env.mjs';
export { LOG_DIR, TEST_PASSWORD, freePort, startServer, tail } from './server.mjs';
