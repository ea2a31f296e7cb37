import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderedReplies } from '../../src/server/dispatch/threads.js';
import { AdmissionControl } from '../../src/server/limits.js';

describe('AdmissionControl', () => {
  it('admits up to maxConnections, then refuses; release frees a slot', () => {
    const admission = new AdmissionControl(2, 0);
    expect(admission.admit('a')).toBeNull();
    expect(admission.admit('b')).toBeNull();
    expect(admission.admit('c')).toBe('max_connections');
    admission.release('a');
    expect(admission.admit('c')).toBeNull();
    expect(admission.open).toBe(2);
  });

  it('0 means unlimited', () => {
    const admission = new AdmissionControl(0, 0);
    for (let index = 0; index < 1000; index++) {
      expect(admission.admit('same')).toBeNull();
    }
  });

  it('limits per IP, and rebind moves the charge to the PROXY client', () => {
    const admission = new AdmissionControl(0, 1);
    expect(admission.admit('proxy')).toBeNull();
    expect(admission.rebind('proxy', 'client-1')).toBeNull();
    expect(admission.admit('proxy')).toBeNull(); // the proxy's slot was moved away
    expect(admission.rebind('proxy', 'client-1')).toBe('max_connections_per_ip');
    expect(admission.rebind('proxy', 'client-2')).toBeNull();
    admission.release('client-1');
    expect(admission.admit('client-1')).toBeNull();
  });

  it('every admit/release sequence keeps the counts consistent', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c')), { maxLength: 200 }),
        (steps) => {
          const admission = new AdmissionControl(5, 2);
          const held: string[] = [];
          for (const [admit, ip] of steps) {
            if (admit) {
              const perIp = held.filter((other) => other === ip).length;
              const refusal = admission.admit(ip);
              const expected =
                held.length >= 5 ? 'max_connections' : perIp >= 2 ? 'max_connections_per_ip' : null;
              if (refusal !== expected) {
                return false;
              }
              if (refusal === null) {
                held.push(ip);
              }
            } else if (held.includes(ip)) {
              held.splice(held.indexOf(ip), 1);
              admission.release(ip);
            }
          }
          return admission.open === held.length;
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('OrderedReplies', () => {
  it('writes replies in sequence order whatever order jobs complete in', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray([...Array(30).keys()], { minLength: 30, maxLength: 30 }),
        (order) => {
          const written: number[] = [];
          const replies = new OrderedReplies((batch) => {
            for (const reply of batch) {
              written.push(reply[0]!);
            }
          });
          for (const sequence of order) {
            replies.complete(sequence, sequence % 3 === 0 ? [] : [Uint8Array.of(sequence)]);
          }
          expect(replies.parked).toBe(0);
          return written.join() === [...Array(30).keys()].filter((value) => value % 3 !== 0).join();
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});
