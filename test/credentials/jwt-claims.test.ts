import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenClaimsError, readTokenClaims } from '../../src/credentials/jwt-claims.ts';
import { makeFakeJwt } from '../support/fake-token-endpoint.ts';

function part(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

describe('readTokenClaims', { timeout: 5000 }, () => {
  it('reads oid, exp and iat from the payload', () => {
    const claims = readTokenClaims(makeFakeJwt({ oid: 'obj-1', exp: 1_800_000_000, iat: 1_799_996_400, aud: 'x' }));
    assert.deepEqual(claims, { oid: 'obj-1', expiresAtMs: 1_800_000_000_000, issuedAtMs: 1_799_996_400_000 });
  });

  it('omits claims that are absent or of the wrong type', () => {
    assert.deepEqual(readTokenClaims(makeFakeJwt({ sub: 'x' })), {});
    assert.deepEqual(readTokenClaims(makeFakeJwt({ oid: 42, exp: '1800000000', iat: -5 })), {});
    assert.deepEqual(readTokenClaims(makeFakeJwt({ oid: '' })), {});
  });

  it('accepts an empty signature (unsigned JWT)', () => {
    assert.deepEqual(readTokenClaims(`${part({ alg: 'none' })}.${part({ oid: 'o' })}.`), { oid: 'o' });
  });

  const malformed: [string, string, RegExp][] = [
    ['an opaque string', 'sEcReT-opaque-access-key-value', /expected 3 dot-separated parts, found 1/],
    ['two parts', `${part({})}.${part({ oid: 'o' })}`, /found 2/],
    ['a JWE (5 parts)', 'a.b.c.d.e', /found 5/],
    ['a non-base64url payload', `${part({})}.pay+load/with=bad.sig`, /not base64url/],
    ['an empty payload', `${part({})}..sig`, /not base64url/],
    ['a non-JSON payload', `${part({})}.${part('{"oid":"secret-ish-payload-text"')}.sig`, /not JSON/],
    ['a JSON array payload', `${part({})}.${part([1, 2])}.sig`, /not a JSON object/],
    ['a JSON string payload', `${part({})}.${part('"just a string"')}.sig`, /not a JSON object/],
  ];
  for (const [what, token, expected] of malformed) {
    it(`rejects ${what} without quoting it`, () => {
      assert.throws(
        () => readTokenClaims(token),
        (error: unknown) => {
          assert.ok(error instanceof TokenClaimsError);
          assert.equal(error.name, 'TokenClaimsError');
          assert.match(error.message, expected);
          for (const piece of token.split('.').filter((p) => p.length > 3)) {
            assert.ok(!error.message.includes(piece), `message quotes part of the token: ${error.message}`);
          }
          assert.ok(!error.message.includes('secret-ish'));
          assert.equal(error.cause, undefined);
          return true;
        },
      );
    });
  }
});
