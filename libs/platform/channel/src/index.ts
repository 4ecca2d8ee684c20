/**
 * @cap/platform-channel — the ways messages leave the platform: the channel adapter interface, the file
 * (outbox) channel and the SMTP channel (nodemailer behind a circuit breaker).
 */
export type { ChannelAdapter, ChannelBatch, FailureKind, OutboundMessage, SendOutcome } from './channel.adapter';
export { createFileChannel } from './file.channel';
export { classifySmtpError, createSmtpChannel, type SmtpChannelOptions } from './smtp.channel';
