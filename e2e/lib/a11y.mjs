// Accessibility checks with axe-core against WCAG 2.1 level A and AA.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { screenshot } from './browser.mjs';

const require = createRequire(import.meta.url);

/** The rule tags checked: WCAG 2.0 and 2.1, levels A and AA. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let axeSource = null;
function loadAxe() {
  if (axeSource === null) {
    // The copy installed from package-lock.json, never a CDN.
    axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  return axeSource;
}

/**
 * Formats axe violations as a readable list: rule id, impact, help text and
 * the selectors of the offending nodes.
 *
 * @param {Array<{id:string, impact:string|null, help:string, helpUrl:string, nodes:Array<{target:unknown[]}>}>} violations
 * @returns {string}
 */
export function formatViolations(violations) {
  const lines = [];
  for (const v of violations) {
    lines.push(`- ${v.id} [${v.impact ?? 'unknown impact'}]: ${v.help} (${v.helpUrl})`);
    const shown = v.nodes.slice(0, 10);
    for (const n of shown) {
      lines.push(`    at ${n.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : String(t))).join(', ')}`);
    }
    if (v.nodes.length > shown.length) {
      lines.push(`    ... and ${v.nodes.length - shown.length} more`);
    }
  }
  return lines.join('\n');
}

/**
 * Runs axe-core on the page's current document and throws when it finds
 * WCAG 2.1 A/AA violations, with a list of them and a screenshot path.
 *
 * axe is injected with page.evaluate rather than page.addScriptTag: the
 * portal sends a strict Content-Security-Policy (script-src 'self'), which
 * blocks the inline <script> that addScriptTag creates, while code evaluated
 * through the DevTools protocol is not subject to the page's CSP. So the
 * check works with the policy left in force and the tests keep seeing the
 * page exactly as users do. (Setting bypassCSP: true on the browser context
 * would also let addScriptTag through, at the price of testing every page
 * without its policy.)
 *
 * @param {import('playwright-core').Page} page
 * @param {string} label names the page in the error and the screenshot
 * @param {object} [opts]
 * @param {string[]} [opts.disableRules] axe rule ids to skip, each needing a reason at the call site
 * @returns {Promise<{passes: number, incomplete: number}>}
 */
export async function checkA11y(page, label, opts = {}) {
  const hasAxe = await page.evaluate(() => typeof window.axe === 'object');
  if (!hasAxe) {
    await page.evaluate(`${loadAxe()}\n;void 0`);
  }
  const options = {
    runOnly: { type: 'tag', values: WCAG_TAGS },
    rules: Object.fromEntries((opts.disableRules ?? []).map((id) => [id, { enabled: false }])),
  };
  const result = await page.evaluate(async (o) => {
    const r = await window.axe.run(document, o);
    const slim = (list) => list.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
    return { violations: slim(r.violations), passes: r.passes.length, incomplete: r.incomplete.length };
  }, options);
  if (result.violations.length > 0) {
    let shot = '';
    try {
      shot = `\nscreenshot: ${await screenshot(page, `a11y-${label}`)}`;
    } catch (err) {
      shot = `\n(no screenshot: ${err.message})`;
    }
    const n = result.violations.length;
    throw new Error(
      `${label}: ${n} accessibility violation${n === 1 ? '' : 's'} (${WCAG_TAGS.join(', ')}) on ${page.url()}:\n` +
        `${formatViolations(result.violations)}${shot}`,
    );
  }
  return { passes: result.passes, incomplete: result.incomplete };
}
