import type { Projection } from '../src/core/projection';
import { auditLogProjection } from './audit-log';

/** Every read model Backplane maintains. */
export const projections: readonly Projection[] = [auditLogProjection];
