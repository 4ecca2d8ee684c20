-- Operator credentials, apart from the queryable xtk:operator entity: only local-store reads them.
-- password_hash: scrypt, self-describing (scrypt$N$r$p$salt$hash); never returned by any API.
CREATE TABLE IF NOT EXISTS cap_operator_credential (
  login             text PRIMARY KEY,
  password_hash     text        NOT NULL,
  -- May this operator authenticate with a "login/password" session token on each call (Message Center)?
  allow_login_token boolean     NOT NULL DEFAULT false,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
