// The web UI's first load on the embedded default: the bundle's gzip size as served, and the time from
// navigation to the first render (first contentful paint, and the sign-in form visible) in headless
// Chromium with a fresh profile each run (cold cache). `node dist/bench/web-ui.js [runs]`; see bench/README.md.
import { launchBrowser } from '../test/web/browser.js';
import { startQuayside } from '../test/helpers/processes.js';

const runs = Number(process.argv[2] ?? 5);
const server = await startQuayside({ user: false });
try {
  const html = await fetch(`${server.url}/signin`, { headers: { 'accept-encoding': 'gzip' } });
  const htmlBytes = Number(html.headers.get('content-length') ?? -1);
  const index = await (await fetch(`${server.url}/`)).text();
  const assets = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
  let gzipBytes = 0;
  let rawBytes = 0;
  for (const asset of assets) {
    const response = await fetch(`${server.url}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
    const body = Buffer.from(await response.arrayBuffer());
    // fetch() decodes gzip itself; the Content-Length header is what went over the wire.
    gzipBytes += Number(response.headers.get('content-length') ?? body.length);
    rawBytes += body.length;
  }
  const paints: number[] = [];
  const forms: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const browser = await launchBrowser(server.url);
    try {
      const tab = await browser.context.newPage();
      const started = Date.now();
      await tab.goto('/signin');
      await tab.getByRole('button', { name: 'Sign in' }).waitFor();
      forms.push(Date.now() - started);
      const fcp = await tab.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
      paints.push(Math.round(fcp));
    } finally {
      await browser.close();
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  process.stdout.write(
    [
      `web UI bundle: ${assets.length} assets, ${(rawBytes / 1024).toFixed(1)} KiB, ${(gzipBytes / 1024).toFixed(1)} KiB gzip over the wire; index.html ${htmlBytes} B gzip`,
      `first contentful paint (cold, fresh profile): median ${median(paints)} ms of ${runs} runs (${paints.join(', ')})`,
      `sign-in form visible after navigation: median ${median(forms)} ms (${forms.join(', ')})`,
    ].join('\n') + '\n',
  );
} finally {
  await server.stop();
}
