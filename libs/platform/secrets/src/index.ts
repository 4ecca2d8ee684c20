export { hashPassword, verifyPassword } from './password.hasher';
export { createSecretCipher, inspectSecretToken, SecretTokenError, type SecretCipher } from './secret.cipher';
export { DEVELOPMENT_SECRET_KEY, parseSecretKeys, resolveSecretKeys, ringOf, type SecretKey, type SecretKeyRing, type SecretKeySettings } from './secret.keys';
