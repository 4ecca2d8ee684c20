export { createLogger, type Logger, type LoggerOptions } from './logger.factory';
export { findCorrelationId, newCorrelationId, withCorrelationId } from './correlation.context';
