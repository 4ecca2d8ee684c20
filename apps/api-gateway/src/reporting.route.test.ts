import type { ReportingSummary } from '@cap/contracts';
import { renderReportingHtml } from './reporting.route';

const summary = (): ReportingSummary => ({
  generatedAt: '2025-06-02T10:00:00.000Z',
  period: { from: '2025-05-27', to: '2025-06-02' },
  deliveries: [
    {
      id: '1125899906842625',
      internalName: 'DM1',
      label: 'June <script>alert(1)</script> & co',
      template: 'NEWSLETTER',
      state: 95,
      failureText: null,
      created: '2025-06-01T08:00:00.000Z',
      finished: '2025-06-01T08:01:00.000Z',
      indicators: {
        targeted: 1200,
        excluded: 2,
        toDeliver: 1198,
        processed: 1198,
        success: 1190,
        error: 8,
        errorRendering: 1,
        errorRefused: 5,
        errorUnreachable: 2,
      },
      retryPending: 0,
    },
  ],
  deliveriesTruncated: false,
  messageCenter: {
    eventTypes: [
      {
        eventType: 'order"<b>',
        processed: 10,
        sent: 7,
        failed: 1,
        ignored: 1,
        expired: 1,
        retried: 3,
        latencyMsTotal: 1000,
        meanLatencyMs: 100,
        lastEvent: '2025-06-02T09:00:00.000Z',
      },
    ],
    total: { processed: 10, sent: 7, failed: 1, ignored: 1, expired: 1, retried: 3, latencyMsTotal: 1000, meanLatencyMs: 100 },
  },
});

describe('renderReportingHtml', () => {
  it('when the summary holds deliveries and event types, then the page shows their figures with every text escaped', () => {
    const html = renderReportingHtml(summary(), { login: 'admin' });
    expect(html).toContain('June &lt;script&gt;alert(1)&lt;/script&gt; &amp; co');
    expect(html).not.toContain('<script>');
    expect(html).toContain('<code>order&quot;&lt;b&gt;</code>');
    expect(html).toContain('<td class="n">1,200</td>');
    expect(html).toContain('finished');
    expect(html).toMatch(/All event types<\/td><td class="n">10<\/td><td class="n">7<\/td>/);
    expect(html).toContain('href="?from=2025-05-27&amp;to=2025-06-02&amp;format=json"');
  });

  it('when nothing happened in the period, then the page says so instead of empty tables', () => {
    const empty: ReportingSummary = {
      ...summary(),
      deliveries: [],
      messageCenter: {
        eventTypes: [],
        total: { processed: 0, sent: 0, failed: 0, ignored: 0, expired: 0, retried: 0, latencyMsTotal: 0, meanLatencyMs: null },
      },
    };
    const html = renderReportingHtml(empty, { login: 'admin' });
    expect(html).toContain('No delivery was created in this period.');
    expect(html).toContain('No transactional event was processed in this period.');
  });
});
