import { bearerOptions } from './bearer.options';

const settings = { JWT_SECRET: 's3cret', JWT_ALGORITHMS: ['HS256', 'HS512'], JWT_ISSUER: '', JWT_AUDIENCE: '', JWT_MAX_LIFETIME_MS: 3_600_000 };

describe('bearer options', () => {
  it('when no secret is set, then bearer auth is off', () => {
    expect(bearerOptions({ ...settings, JWT_SECRET: '' })).toBeUndefined();
  });

  it('when a secret is set, then the key is its UTF-8 bytes and only the configured algorithms and lifetime apply', () => {
    const options = bearerOptions(settings)!;
    expect(Buffer.from(options.key as Uint8Array).toString('utf8')).toBe('s3cret');
    expect(options.options).toEqual({ algorithms: ['HS256', 'HS512'] });
    expect(options.maxLifetimeMs).toBe(3_600_000);
  });

  it('when an issuer and an audience are set, then tokens must carry them', () => {
    expect(bearerOptions({ ...settings, JWT_ISSUER: 'ims', JWT_AUDIENCE: 'campaign' })!.options).toEqual({
      algorithms: ['HS256', 'HS512'],
      issuer: 'ims',
      audience: 'campaign',
    });
  });
});
