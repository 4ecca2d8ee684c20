export { createBreaker, type Breaker, type BreakerOptions } from './circuit.breaker';
export { memoUntilFailure } from './memo.until-failure';
export { createIdleBackoff, type IdleBackoff } from './idle.backoff';
export { exponentialBackoff, type ExponentialBackoff } from './exponential.backoff';
