// The git client as Backplane runs it: tokens only in the environment, failures as GitLab's.
export { bundleRefs, bundleStream, bundleTo, checkRepository, cloneBundle, verifyBundle } from './bundle';
export { GitError } from './errors';
export { fetchMirror, type FetchMirrorOptions, type MirrorState } from './mirror';
export { type PushMirrorOptions, type PushResult, pushMirror } from './push';
export { type GitRef, listRefs } from './refs';
export { type GitResult, type GitStream, type RunGitOptions, runGit } from './run';
export { checkRemoteUrl } from './url';
export { checkGit } from './version';
