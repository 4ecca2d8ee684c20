export { createBreaker, type Breaker, type BreakerOptions } from './circuit.breaker';
