/** What the SDK rejects with when the gateway answers a SOAP fault (docs/campaign-api.md#errors-the-client-surfaces). */
export interface CampaignException {
  statusCode: number;
  errorCode: string;
  faultString: string;
}

/** Awaits a call that must fail and returns the SDK's CampaignException; fails the test if the call succeeds. */
export async function failure(p: Promise<unknown>): Promise<CampaignException> {
  try {
    await p;
  } catch (err) {
    return err as CampaignException;
  }
  throw new Error('expected the call to fail');
}
