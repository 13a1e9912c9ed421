export { GitLabDouble, type RecordedRequest } from './server';
export type { FaultRule, FaultRequest } from './faults';
export type { RateLimitRule } from './rate-limit';
export type { CommitOptions } from './git-repos';
