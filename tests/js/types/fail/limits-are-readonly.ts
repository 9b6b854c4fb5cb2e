// Must not compile: the contract's limits are read-only at runtime and in the types.
// expect: TS2540
import { LIMITS } from '@lockstep/contract';

LIMITS.contentMaxBytes = 1;
