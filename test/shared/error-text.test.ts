import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeError, errorMessage } from '../../src/shared/error-text.ts';

describe('error text', () => {
  it('describeError gives the class and message, and a system code the message does not already name', () => {
    assert.equal(describeError(new TypeError('bad input')), 'TypeError: bad input');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    assert.equal(describeError(refused), 'Error: connect ECONNREFUSED 127.0.0.1:1');
    const reset = Object.assign(new Error('socket closed'), { code: 'ECONNRESET' });
    assert.equal(describeError(reset), 'Error: socket closed (ECONNRESET)');
  });

  it('a thrown value that is not an Error is its string form, in both', () => {
    for (const thrown of ['plain text', 42, null, undefined]) {
      assert.equal(describeError(thrown), String(thrown));
      assert.equal(errorMessage(thrown), String(thrown));
    }
  });

  it('errorMessage gives the message alone', () => {
    assert.equal(errorMessage(new RangeError('out of range')), 'out of range');
  });
});
