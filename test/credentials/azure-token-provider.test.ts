import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregateAuthenticationError, AuthenticationError, AuthenticationRequiredError, CredentialUnavailableError } from '@azure/identity';
import { createAzureTokenProvider } from '../../src/credentials/azure-token-provider.ts';
import { describeAzureError } from '../../src/credentials/azure-error.ts';
import { ENTRA_REDIS_SCOPE } from '../../src/config/resolve-config.ts';
import { TokenRequestError } from '../../src/credentials/token-request.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { makeFakeJwt } from '../support/fake-token-endpoint.ts';

const LEAKED = makeFakeJwt({ oid: 'leaky', exp: 1 });
const SECRET = 'Xy7~client-secret-value~Q9';

/** An MSAL error as @azure/msal-node shapes it (name + errorCode, optional status). */
function msalError(name: string, errorCode: string, message: string, status?: number): Error {
  const error = new Error(message) as Error & { errorCode: string; status?: number };
  error.name = name;
  error.errorCode = errorCode;
  if (status !== undefined) error.status = status;
  return error;
}

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1 ${LEAKED}`), { code });
}

function assertClean(error: TokenRequestError): void {
  for (const text of [error.message, error.stack ?? '', JSON.stringify(error)]) {
    assert.ok(!text.includes(LEAKED), `token leaked: ${text}`);
    assert.ok(!text.includes(LEAKED.split('.')[2]!), `token signature leaked: ${text}`);
    assert.ok(!text.includes(SECRET), `secret leaked: ${text}`);
  }
  assert.equal(error.cause, undefined);
}

describe('describeAzureError', { timeout: 5000 }, () => {
  it('managed identity: HTTP 500 under CredentialUnavailableError is a retryable http failure', () => {
    const error = new CredentialUnavailableError(`ManagedIdentityCredential: Authentication failed. Message ${LEAKED}`, {
      cause: msalError('ServerError', 'ServiceUnavailable', `ServiceUnavailable: body ${LEAKED}`, 500),
    });
    const described = describeAzureError('ManagedIdentityCredential', error);
    assert.equal(described.kind, 'http');
    assert.equal(described.isRetryable, true);
    assert.equal(described.httpStatus, 500);
    assert.equal(
      described.message,
      'ManagedIdentityCredential: the token endpoint failed [HTTP 500, ServiceUnavailable, CredentialUnavailableError <- ServerError]',
    );
    assertClean(described);
  });

  it('network failures are retryable network errors', () => {
    const msalNetwork = new CredentialUnavailableError('ManagedIdentityCredential: Network unreachable.', {
      cause: msalError('ClientAuthError', 'network_error', 'network_error: See https://aka.ms/msal.js.errors#network_error'),
    });
    const described = describeAzureError('ManagedIdentityCredential', msalNetwork);
    assert.equal(described.kind, 'network');
    assert.equal(described.isRetryable, true);
    assert.match(described.message, /could not reach the token endpoint \[network_error, CredentialUnavailableError <- ClientAuthError\]/);

    const refused = describeAzureError('X', systemError('ECONNREFUSED'));
    assert.equal(refused.kind, 'network');
    assert.match(refused.message, /ECONNREFUSED/);
    assertClean(refused);
  });

  it('Entra rejections (msal message shape, no status) are not retryable and keep the codes only', () => {
    const error = new AuthenticationRequiredError({
      scopes: [ENTRA_REDIS_SCOPE],
      message: `invalid_client: Error(s): 700016, 7000215 - Timestamp: 2025-01-01 - Description: AADSTS700016: ${SECRET} ${LEAKED}`,
    });
    const described = describeAzureError('WorkloadIdentityCredential', error);
    assert.equal(described.kind, 'rejected');
    assert.equal(described.isRetryable, false);
    assert.equal(
      described.message,
      'WorkloadIdentityCredential: the token request was rejected (check tenant id, client id, and the secret or federated credential) [invalid_client, AADSTS700016, AADSTS7000215, AuthenticationRequiredError]',
    );
    assertClean(described);
  });

  it('AuthenticationError: status and OAuth error code, never the description', () => {
    const error = new AuthenticationError(
      401,
      JSON.stringify({ error: 'unauthorized_client', error_description: `bad ${SECRET} ${LEAKED}`, error_codes: [700016] }),
    );
    const described = describeAzureError('ClientSecretCredential', error);
    assert.equal(described.kind, 'rejected');
    assert.equal(described.httpStatus, 401);
    assert.match(described.message, /\[HTTP 401, unauthorized_client, AADSTS700016, AuthenticationError\]/);
    assertClean(described);

    const throttled = describeAzureError('ClientSecretCredential', new AuthenticationError(429, `slow down ${LEAKED}`));
    assert.equal(throttled.kind, 'http');
    assert.equal(throttled.isRetryable, true);
    assertClean(throttled);

    const imdsNotReady = describeAzureError('ManagedIdentityCredential', new AuthenticationError(404, 'identity not found'));
    assert.equal(imdsNotReady.isRetryable, true);
  });

  it('an unavailable credential (e.g. az not logged in) is not retryable', () => {
    const cli = describeAzureError('AzureCliCredential', new CredentialUnavailableError('Please run az login to set up an account'));
    assert.equal(cli.kind, 'unavailable');
    assert.equal(cli.isRetryable, false);
    assert.doesNotMatch(cli.message, /az login/);

    const chain = new AggregateAuthenticationError(
      [new CredentialUnavailableError('EnvironmentCredential is unavailable'), new CredentialUnavailableError(`IMDS ${LEAKED}`)],
      'ChainedTokenCredential authentication failed.',
    );
    const described = describeAzureError('DefaultAzureCredential', chain);
    assert.equal(described.kind, 'unavailable');
    assert.match(described.message, /AggregateAuthenticationError <- CredentialUnavailableError/);
    assertClean(described);

    const chainWithOutage = new AggregateAuthenticationError([
      new CredentialUnavailableError('EnvironmentCredential is unavailable'),
      new CredentialUnavailableError('MI down', { cause: systemError('ETIMEDOUT') }),
    ]);
    assert.equal(describeAzureError('DefaultAzureCredential', chainWithOutage).kind, 'network');
  });

  it('unparseable answers and unknown errors stay retryable; odd values are handled', () => {
    const syntax = describeAzureError('X', new SyntaxError(`Unexpected token < in JSON at position 0: <html>${LEAKED}`));
    assert.equal(syntax.kind, 'invalid_response');
    assert.equal(syntax.isRetryable, true);
    assertClean(syntax);

    const weird = describeAzureError('X', { name: `not an identifier ${LEAKED}`, message: LEAKED, errorCode: LEAKED, code: LEAKED });
    assert.equal(weird.kind, 'unknown');
    assert.equal(weird.message, 'X: token request failed');
    assertClean(weird);

    assert.equal(describeAzureError('X', undefined).message, 'X: token request failed');
    const cyclic: { name: string; cause?: unknown } = { name: 'LoopError' };
    cyclic.cause = cyclic;
    assert.equal(describeAzureError('X', cyclic).message, 'X: token request failed [LoopError]');

    const ours = new TokenRequestError('kept as is', { kind: 'timeout', isRetryable: true });
    assert.equal(describeAzureError('X', ours), ours);
  });
});

describe('createAzureTokenProvider', { timeout: 5000 }, () => {
  it('reports a credential that cannot be built as a non-retryable TokenRequestError naming the settings', () => {
    const saved = { ...process.env };
    delete process.env['AZURE_CLIENT_ID'];
    delete process.env['AZURE_TENANT_ID'];
    delete process.env['AZURE_FEDERATED_TOKEN_FILE'];
    try {
      assert.throws(
        () => createAzureTokenProvider({ source: 'workload-identity' }, { clock: systemClock, timeoutMs: 1000 }),
        (error: unknown) => {
          assert.ok(error instanceof TokenRequestError);
          assert.equal(error.kind, 'unavailable');
          assert.equal(error.isRetryable, false);
          assert.match(error.message, /^WorkloadIdentityCredential could not be created: check clientId, AZURE_CLIENT_ID/);
          return true;
        },
      );
      assert.throws(
        () =>
          createAzureTokenProvider(
            { source: 'client-secret', tenantId: 'not a tenant!', clientId: 'c', clientSecret: SECRET },
            { clock: systemClock, timeoutMs: 1000 },
          ),
        (error: unknown) => {
          assert.ok(error instanceof TokenRequestError);
          assert.match(error.message, /^ClientSecretCredential could not be created/);
          assertClean(error);
          return true;
        },
      );
    } finally {
      process.env = saved;
    }
  });

  it('azure-cli without an az binary fails fast as unavailable (not retryable)', async () => {
    const savedPath = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      const provider = createAzureTokenProvider({ source: 'azure-cli' }, { clock: systemClock, timeoutMs: 4000 });
      await assert.rejects(provider.requestToken(), (error: unknown) => {
        assert.ok(error instanceof TokenRequestError);
        assert.equal(error.kind, 'unavailable');
        assert.equal(error.isRetryable, false);
        assert.match(error.message, /^AzureCliCredential: credential unavailable in this environment/);
        return true;
      });
    } finally {
      process.env['PATH'] = savedPath;
    }
  });

  it('validates the timeout', () => {
    assert.throws(() => createAzureTokenProvider({ source: 'azure-cli' }, { clock: systemClock, timeoutMs: 0 }), /timeoutMs/);
  });
});
