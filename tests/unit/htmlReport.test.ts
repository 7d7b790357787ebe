import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { buildReportFixture } from '../reportFixture.js';

const OUT = path.resolve('tests/output');
let db = '';
let browser: Browser;

/** Debian's chromium, installed by the project's own script when missing (no browser download). */
function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH && existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
  const r = spawnSync('bash', ['scripts/ensure-chromium.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  assert.equal(r.status, 0, 'scripts/ensure-chromium.sh failed');
  return r.stdout.trim().split('\n').pop()!;
}

before(async () => {
  db = await buildReportFixture();
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
});

test('the HTML report opens from disk in headless Chromium: no errors, no network, radar of 12 axes x 3 runs, a working explorer', async () => {
  const file = path.join(OUT, 'report-fixture.html');
  const r = spawnSync(process.execPath, ['bin/flask-eval.js', 'report', 'fa', 'fb', 'fc', '--db', db, '--format', 'html', '--out', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(statSync(file).size > 500_000, 'the charting library is inline');

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (q) => { if (!q.url().startsWith('file://') && !q.url().startsWith('data:') && !q.url().startsWith('blob:')) requests.push(q.url()); });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  await page.waitForFunction(() => (window as unknown as { __report?: { ready?: boolean } }).__report?.ready === true);

  // Radar: 12 axes in FLASK's order, one series per run; the SVG really shows the 12 axis names.
  const radar = await page.evaluate(() => {
    const w = window as unknown as { echarts: { getInstanceByDom(e: Element): { getOption(): { radar: { indicator: { name: string }[] }[]; series: { type: string; name: string; data: { value: unknown[] }[] }[] } } } };
    const o = w.echarts.getInstanceByDom(document.getElementById('radar')!).getOption();
    const texts = [...document.querySelectorAll('#radar svg text')].map((t) => t.textContent);
    return { axes: o.radar[0]!.indicator.map((i) => i.name), series: o.series.map((s) => [s.type, s.name, s.data[0]!.value.length]), texts };
  });
  assert.deepEqual(radar.axes, ['Logical Robustness', 'Logical Correctness', 'Logical Efficiency', 'Factuality', 'Commonsense Understanding', 'Comprehension', 'Insightfulness', 'Completeness', 'Metacognition', 'Readability', 'Conciseness', 'Harmlessness']);
  assert.deepEqual(radar.series, [['radar', 'fa', 12], ['radar', 'fb', 12], ['radar', 'fc', 12]]);
  for (const a of radar.axes) assert.ok(radar.texts.includes(a), `axis label ${a} drawn`);
  for (const run of ['fa', 'fb', 'fc']) assert.ok(radar.texts.includes(run), `legend ${run} drawn`);

  // SIMULATED banner names the simulated runs; the skill table shows a CI.
  assert.match(await page.textContent('#banner') ?? '', /SIMULATED: fa \(judge\), fb \(judge\): produced by the offline endpoint, not a real model/);
  assert.match(await page.textContent('#skill-table') ?? '', /Readability3\.500 \[\d\.\d\d, \d\.\d\d\]4/);
  assert.match(await page.textContent('#prov-table') ?? '', /judge\.example:8000/);

  // The leaderboard section: `flask-eval leaderboard fa fb fc`'s ranks, means and tiers, row for row.
  const lb = spawnSync(process.execPath, ['bin/flask-eval.js', 'leaderboard', 'fa', 'fb', 'fc', '--db', db, '--format', 'json'], { encoding: 'utf8' });
  assert.equal(lb.status, 0, lb.stderr);
  const expected = (JSON.parse(lb.stdout) as { rows: Array<{ rank: number; run: string; overall: { mean: number }; tier: number; rankLow: number; rankHigh: number }> }).rows
    .map((x) => [String(x.rank), x.run, x.overall.mean.toFixed(3), `${x.rankLow}-${x.rankHigh}`, String(x.tier)]);
  const shown = await page.$$eval('#leaderboard-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
  assert.deepEqual(shown.map((c) => [c[0], c[1], c[2], c[4], c[5]]), expected);
  assert.match(await page.textContent('#leaderboard-note') ?? '', /Holm-corrected over 3 pairs/);
  // No panel, samples or labels in the fixture: the reliability section says where the figures are.
  assert.match(await page.textContent('#reliability') ?? '', /flask-eval judge-report RUN/);
  assert.match(await page.textContent('#fail-list') ?? '', /fa: 1 failed/);

  // Explorer: 6 instances; filtering by skill changes the rows shown.
  const rows = () => page.$$eval('#explorer-table tbody tr', (trs) => trs.map((t) => t.getAttribute('data-idx')));
  assert.deepEqual(await rows(), ['1', '2', '3', '4', '5', '6']);
  await page.selectOption('select[data-filter="skill"]', 'harmlessness');
  assert.deepEqual(await rows(), ['5']);
  await page.selectOption('select[data-filter="skill"]', 'readability');
  await page.fill('input[data-filter="min"]', '4');
  assert.deepEqual(await rows(), ['1', '2']); // fa's readability: 4, 5, (3 failed), 3, 2
  await page.fill('input[data-filter="min"]', '');
  await page.selectOption('select[data-filter="skill"]', '');
  await page.selectOption('select[data-filter="domain"]', 'Math');
  assert.deepEqual(await rows(), ['1', '2']);
  await page.selectOption('select[data-filter="domain"]', '');
  assert.match(await page.textContent('#explorer-count') ?? '', /^6 of 6 instances match/);

  // Opening an instance: instruction, reference, and each run's response and judge text side by side.
  await page.click('#explorer-table tbody tr[data-idx="2"]');
  await page.waitForSelector('#detail .card');
  const detail = await page.textContent('#detail') ?? '';
  assert.match(detail, /Question 2: explain explain/);
  assert.match(detail, /reference 2/);
  assert.match(detail, /answer 2 of fa\nsecond line/);
  assert.match(detail, /answer 2 of fb/);
  assert.match(detail, /Feedback for 2\./);
  assert.equal(await page.$$eval('#detail .card', (c) => c.length), 2); // fc has no instance 2
  await page.screenshot({ path: path.join(OUT, 'html-report-detail.png') });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(OUT, 'html-report.png') });

  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [], 'no network request');
  await page.close();
});

test('the HTML report on a phone (390 px) and a desktop: every radar axis name and domain label drawn inside its chart, the radar scale 1-5 labelled', async () => {
  const file = path.join(OUT, 'report-fixture-narrow.html');
  const r = spawnSync(process.execPath, ['bin/flask-eval.js', 'report', 'fa', 'fb', 'fc', '--db', db, '--format', 'html', '--out', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const width of [390, 1400]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as unknown as { __report?: { ready?: boolean } }).__report?.ready === true);
    // Each chart's SVG texts with their boxes, relative to the chart's own box.
    const texts = (id: string) => page.evaluate((chartId) => {
      const box = document.getElementById(chartId)!.getBoundingClientRect();
      return [...document.querySelectorAll(`#${chartId} svg text`)].map((t) => {
        const b = t.getBoundingClientRect();
        return { text: t.textContent ?? '', left: b.left - box.left, right: b.right - box.left, top: b.top - box.top, bottom: b.bottom - box.top, w: box.width, h: box.height };
      }).filter((t) => t.text.trim() !== '');
    }, id);
    const inside = (t: { text: string; left: number; right: number; top: number; bottom: number; w: number; h: number }) =>
      assert.ok(t.left >= -0.5 && t.right <= t.w + 0.5 && t.top >= -0.5 && t.bottom <= t.h + 0.5, `at ${width} px "${t.text}" is cut: ${JSON.stringify(t)}`);

    const radar = await texts('radar');
    const words = radar.map((t) => t.text).join(' ');
    const axes = await page.evaluate(() => {
      const w = window as unknown as { echarts: { getInstanceByDom(e: Element): { getOption(): { radar: { indicator: { name: string; min: number; max: number }[] }[] } } } };
      return w.echarts.getInstanceByDom(document.getElementById('radar')!).getOption().radar[0]!.indicator;
    });
    assert.equal(axes.length, 12);
    for (const a of axes) {
      assert.deepEqual([a.min, a.max], [1, 5], `${a.name}: FLASK's fixed 1-5 scale`);
      for (const word of a.name.split(' ')) assert.ok(words.includes(word), `at ${width} px the radar shows "${word}" of ${a.name}`);
    }
    for (const tick of ['1', '2', '3', '4', '5']) assert.ok(radar.some((t) => t.text === tick), `at ${width} px the radar scale shows ${tick}: ${words}`);
    radar.forEach(inside);

    const domain = await texts('domain');
    const domainNames = ['Math', 'Coding', 'History', 'Social Science', 'Natural Science', 'Culture'];
    for (const d of domainNames) assert.ok(domain.some((t) => t.text === d), `at ${width} px the domain chart labels ${d}: ${domain.map((t) => t.text).join(', ')}`);
    domain.filter((t) => domainNames.includes(t.text)).forEach(inside);
    await page.screenshot({ path: path.join(OUT, `html-report-${width}px.png`), fullPage: false });

    // An instance's cards fit the screen: on a phone they stack, and nothing scrolls the page sideways.
    await page.click('#explorer-table tbody tr[data-idx="2"]');
    await page.waitForSelector('#detail .card');
    const cards = await page.$$eval('#detail .card', (cs) => cs.map((c) => c.getBoundingClientRect()).map((b) => ({ left: b.left, right: b.right, top: b.top })));
    assert.equal(cards.length, 2);
    for (const c of cards) assert.ok(c.left >= 0 && c.right <= width + 0.5, `at ${width} px a card reaches ${c.right.toFixed(0)} px`);
    if (width === 390) assert.ok(cards[1]!.top > cards[0]!.top, 'on a phone the cards stack');
    const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(pageWidth <= width, `at ${width} px the page is ${pageWidth} px wide: it scrolls sideways`);
    await page.close();
  }
});
