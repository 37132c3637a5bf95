// dashboard.mjs opens waihu's dashboard in headless Chromium, logs in with
// an API token, starts a campaign by clicking its Start button and watches
// the figures change. It prints what it saw as one JSON line; cmd/waihu's
// dashboard interop test runs it:
//
//   node test/dashboard.mjs --url http://127.0.0.1:8080/ --token waihu_… \
//        --campaign 1 [--want-ended 2] [--timeout 60] [--screenshot FILE] \
//        [--hangup 1] [--chromium /usr/bin/chromium]
//
// It waits until the campaign has finished --want-ended contacts, the
// ticker shows that many "ended" rows and the answer-seizure ratio card
// holds a figure, or until --timeout seconds have passed. With --hangup the
// first live call is hung up from its row's button once it is answered, and
// the driver reports how long its "ended" row took to appear.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function args() {
  const out = { chromium: '/usr/bin/chromium', timeout: '60', 'want-ended': '1' };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) out[a[i].replace(/^--/, '')] = a[i + 1];
  if (!out.url || !out.token || !out.campaign) {
    throw new Error('usage: dashboard.mjs --url URL --token TOKEN --campaign ID [--want-ended N] [--timeout S] [--screenshot FILE] [--chromium PATH]');
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// figures reads what the page shows for campaign id: its row, the KPI
// cards, the ticker and the live calls.
function figures(id) {
  const row = document.querySelector(`#campaigns tr[data-campaign="${id}"]`);
  const cell = (cls) => (row ? Number(row.querySelector(`.${cls}`).textContent) : -1);
  const kpi = (name) => {
    const v = document.querySelector(`#kpis [data-name="${name}"]`);
    return v ? { text: v.textContent, value: v.dataset.value === '' || v.dataset.value === undefined ? null : Number(v.dataset.value) } : null;
  };
  const kinds = {};
  document.querySelectorAll('#ticker li').forEach((li) => { kinds[li.dataset.kind] = (kinds[li.dataset.kind] || 0) + 1; });
  return {
    state: row ? row.dataset.state : '',
    placed: cell('placed'),
    finished: cell('finished'),
    inFlight: cell('in-flight'),
    asr: kpi('answer_seizure_ratio'),
    conversion: kpi('conversion_rate'),
    ticker: kinds,
    tickerText: [...document.querySelectorAll('#ticker li')].slice(0, 12).map((li) => li.textContent),
    liveCallRows: document.querySelectorAll('#calls tr').length,
    kpiUpdates: window.waihuDashboard.kpiUpdates,
    connected: window.waihuDashboard.connected,
    conn: document.getElementById('conn').dataset.state,
    chartPoints: Number(document.getElementById('chart').dataset.points || 0),
  };
}

async function main() {
  const o = args();
  const dir = mkdtempSync(join(tmpdir(), 'waihu-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: o.chromium,
    headless: true,
    locale: 'en-GB',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const result = { console: [], maxPlaced: 0, maxLiveCallRows: 0 };
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
    page.on('pageerror', (e) => result.console.push(String(e)));
    await page.goto(o.url);
    // A wrong token is refused and forgotten.
    await page.fill('#token', 'waihu_not-a-token');
    await page.click('#save-token');
    await page.waitForFunction(() => document.getElementById('error').textContent !== '' && !window.waihuDashboard.token, null, { timeout: 10000 });
    result.badTokenError = await page.textContent('#error');
    await page.fill('#token', o.token);
    await page.click('#save-token');
    const id = o.campaign;
    await page.waitForSelector(`#campaigns tr[data-campaign="${id}"]`, { timeout: 10000 });
    await page.waitForFunction(() => window.waihuDashboard.connected, null, { timeout: 10000 });
    result.tokenStored = await page.evaluate(() => sessionStorage.getItem('waihu.token') !== null);
    result.before = await page.evaluate(figures, id);
    await page.click(`#campaigns tr[data-campaign="${id}"] button[data-action="start"]`);
    const deadline = Date.now() + Number(o.timeout) * 1000;
    const want = Number(o['want-ended']);
    for (;;) {
      const f = await page.evaluate(figures, id);
      result.maxPlaced = Math.max(result.maxPlaced, f.placed);
      result.maxLiveCallRows = Math.max(result.maxLiveCallRows, f.liveCallRows);
      if (f.inFlight > 0 && !result.during) {
        result.during = f;
        if (o.screenshot) await page.screenshot({ path: o.screenshot, fullPage: true });
      }
      if (o.hangup && !result.hungUp) {
        const id = await page.evaluate(() => {
          const row = document.querySelector('#calls tr[data-state="answered"]');
          return row ? row.dataset.call : '';
        });
        if (id) {
          const clicked = Date.now();
          await page.click(`#calls tr[data-call="${id}"] button[data-action="hangup"]`);
          await page.waitForSelector(`#ticker li[data-kind="ended"][data-call="${id}"]`, { timeout: 15000 });
          result.hungUp = { id, endedAfterMs: Date.now() - clicked,
            rowGone: await page.evaluate((x) => !document.querySelector(`#calls tr[data-call="${x}"]`), id) };
        }
      }
      result.after = f;
      const t0 = deadline - Number(o.timeout) * 1000;
      result.firstMs = result.firstMs || {};
      for (const [k, ok] of [['finished', f.finished >= want], ['ended', (f.ticker.ended || 0) >= want], ['asr', f.asr && f.asr.value !== null]]) {
        if (ok && !result.firstMs[k]) result.firstMs[k] = Date.now() - t0;
      }
      if (f.finished >= want && (f.ticker.ended || 0) >= want && f.asr && f.asr.value !== null) break;
      if (Date.now() > deadline) throw new Error(`figures did not change in ${o.timeout} s: ${JSON.stringify(f)}`);
      await sleep(200);
    }
    result.watchedMs = Date.now() - (deadline - Number(o.timeout) * 1000);
    // The chart is redrawn every 30 s; ask for it now.
    await page.reload();
    await page.waitForFunction(() => window.waihuDashboard.connected, null, { timeout: 10000 });
    await page.waitForFunction(() => Number(document.getElementById('chart').dataset.points || 0) > 0, null, { timeout: 10000 });
    result.chartPoints = await page.evaluate(() => Number(document.getElementById('chart').dataset.points));
    await page.waitForFunction(() => document.querySelectorAll('#segments tr[data-segment]').length > 0, null, { timeout: 10000 })
      .catch(() => {});
    result.segments = await page.evaluate(() => document.querySelectorAll('#segments tr[data-segment]').length);
    result.segmentsText = await page.textContent('#segments');
    // The token survived the reload (sessionStorage), and the labels switch
    // to Chinese.
    await page.click('#lang');
    result.zh = {
      lang: await page.evaluate(() => document.documentElement.lang),
      asrLabel: await page.textContent('#kpis [data-kpi="answer_seizure_ratio"] .label'),
      campaignsTitle: await page.textContent('[data-i18n="campaigns"]'),
    };
    if (o.screenshot) await page.screenshot({ path: o.screenshot.replace(/\.png$/, '-zh.png'), fullPage: true });
  } catch (e) {
    result.error = String(e);
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.error ? 1 : 0);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
  process.exit(1);
});
