import { classifyPgError } from './pg.errors';

/** What node-postgres throws: an Error with the SQLSTATE in `code` and PostgreSQL's detail. */
function pgError(code: string, message: string, detail?: string): Error {
  return Object.assign(new Error(message), { code, ...(detail ? { detail } : {}) });
}

describe('classifyPgError', () => {
  it.each([
    ['22P02', 'a value is malformed or out of range'],
    ['22001', 'a value is malformed or out of range'],
    ['23505', 'a record with the same key already exists'],
    ['23502', 'a required value is missing'],
    ['23503', 'a linked record does not exist or is still referenced'],
    ['23514', 'a value breaks a rule of the data model'],
    ['23P01', 'the data breaks an integrity rule'],
    ['42601', 'the statement was refused'],
    ['42703', 'the statement was refused'],
  ])('when PostgreSQL refuses the data with SQLSTATE %s, then the request caused it (not retriable) and the caller reads "%s"', (code, publicMessage) => {
    const verdict = classifyPgError(
      pgError(code, 'duplicate key value violates unique constraint "nms_recipient_email"', 'Key (email)=(a@b.c) already exists.'),
    );
    expect(verdict).toMatchObject({ requestCaused: true, rolledBack: false, statementTimeout: false, publicMessage, sqlState: code });
    expect(verdict.publicMessage).not.toContain('nms_recipient_email');
    expect(verdict.privateDetail).toBe(`${code} duplicate key value violates unique constraint "nms_recipient_email" (Key (email)=(a@b.c) already exists.)`);
  });

  it.each([
    ['40001', true, 'the transaction conflicted with another one'],
    ['40P01', true, 'the transaction conflicted with another one'],
    ['57014', false, 'the statement ran too long and was cancelled'],
    ['57P01', false, 'the database could not complete the request'],
    ['08006', false, 'the database could not complete the request'],
    ['53300', false, 'the database could not complete the request'],
  ])('when PostgreSQL fails with SQLSTATE %s, then the database is at fault (retriable); rolled back: %s', (code, rolledBack, publicMessage) => {
    expect(classifyPgError(pgError(code, 'boom'))).toMatchObject({ requestCaused: false, rolledBack, publicMessage, sqlState: code });
  });

  it('when a statement runs past its statement_timeout (SQLSTATE 57014), then the verdict says so; no other SQLSTATE does', () => {
    expect(classifyPgError(pgError('57014', 'canceling statement due to statement timeout'))).toMatchObject({
      requestCaused: false,
      rolledBack: false,
      statementTimeout: true,
      sqlState: '57014',
    });
    for (const code of ['57P01', '57000', '23505', '40001', '42601']) expect(classifyPgError(pgError(code, 'boom')).statementTimeout).toBe(false);
    expect(classifyPgError(new Error('timeout')).statementTimeout).toBe(false);
  });

  it('when the error has no SQLSTATE (a connection refused, a timeout), then it is retriable and its text is kept for the log only', () => {
    const verdict = classifyPgError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    expect(verdict).toEqual({
      requestCaused: false,
      rolledBack: false,
      statementTimeout: false,
      publicMessage: 'the database could not complete the request',
      privateDetail: 'connect ECONNREFUSED 127.0.0.1:5432',
    });
    expect(classifyPgError('not an error')).toMatchObject({ requestCaused: false, privateDetail: 'not an error' });
    expect(classifyPgError(undefined)).toMatchObject({ requestCaused: false });
  });
});
