import { DEFAULT_DELIVERY_RETRY, deliveryRetryDelay } from './delivery.runner';

describe('deliveryRetryDelay', () => {
  it('when a message failed temporarily again and again, then the wait doubles from the retry period and stops at the maximum', () => {
    const policy = { maxRetries: 5, delayMs: 1_000, maxDelayMs: 5_000 };
    expect([1, 2, 3, 4, 5].map((attempts) => deliveryRetryDelay(policy, attempts))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(deliveryRetryDelay(policy, 1_000)).toBe(5_000);
  });

  it('when nothing is configured, then a message is retried 5 times, first after a minute, at most 15 minutes apart', () => {
    expect(DEFAULT_DELIVERY_RETRY).toEqual({ maxRetries: 5, delayMs: 60_000, maxDelayMs: 900_000 });
    const total = [1, 2, 3, 4, 5].reduce((ms, attempts) => ms + deliveryRetryDelay(DEFAULT_DELIVERY_RETRY, attempts), 0);
    expect(total).toBe((1 + 2 + 4 + 8 + 15) * 60_000);
  });
});
