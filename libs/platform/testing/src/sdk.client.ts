// Adobe's own client, unmodified: the flows start where a Campaign developer starts them.
const sdk = require('@adobe/acc-js-sdk');

/** A logged-on client of the SDK (its dynamic NLWS API is untyped in the SDK itself). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SdkClient = any;

/** A client of the gateway at `url`, logged on as `user` with `password` (xtk:session#Logon). */
export async function sdkLogon(url: string, user: string, password: string): Promise<SdkClient> {
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(url, user, password));
  await client.logon();
  return client;
}

/** A client of the gateway at `url` that sends `sessionToken` (`login/password`) with every call, as Message Center does. */
export async function sdkSessionLogon(url: string, sessionToken: string): Promise<SdkClient> {
  const client = await sdk.init(sdk.ConnectionParameters.ofSessionToken(url, sessionToken));
  await client.logon();
  return client;
}
