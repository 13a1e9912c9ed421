import { rm } from 'node:fs/promises';
import { cloneBundle, fetchMirror, type GitRef, type PushResult, pushMirror } from './git';
import { GitLabClient, type GitLabAuth, type GitLabClientOptions } from './gitlab/client';
import { gitlabPort, type GitLabSettings } from './gitlab/port';

/**
 * One token's way into GitLab for a backup: the API through gitbeaker, and git over HTTPS with
 * the same token, counted together, since GitLab throttles both per user.
 */
export class GitLabSessionClient extends GitLabClient {
  // Private, so that neither JSON nor util.inspect of a session shows it.
  readonly #token: string;
  readonly #signal: AbortSignal | undefined;
  readonly #gitTimeoutMs: number;
  #gitRequests = 0;

  constructor(auth: GitLabAuth, options: GitLabClientOptions & { gitTimeoutMs: number }) {
    super(auth, options);
    this.#token = auth.token;
    this.#signal = options.signal;
    this.#gitTimeoutMs = options.gitTimeoutMs;
  }

  /** API requests and git HTTP requests, each attempt counted. */
  override get requests(): number {
    return super.requests + this.#gitRequests;
  }

  /** Brings the bare mirror in `dir` up to the repository at `url` (created when missing), with this session's token. */
  async fetchMirror(target: { url: string; dir: string; signal?: AbortSignal }): Promise<{ refs: GitRef[] }> {
    // The caller's work can stop before the session's (another part of the same snapshot failed).
    const signals = [this.#signal, target.signal].filter((signal): signal is AbortSignal => signal !== undefined);
    const state = await fetchMirror({
      url: target.url,
      dir: target.dir,
      token: this.#token,
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      timeoutMs: this.#gitTimeoutMs,
      // The mirror's folder is named by the repository's id: a project renamed on GitLab is the same repository.
      followMoves: true,
      onRequest: () => {
        this.#gitRequests += 1;
      },
    });
    return { refs: state.refs };
  }

  /**
   * Pushes what a bundle holds into the new, empty project at `url`: the bundle is cloned into
   * `dir` (a scratch folder, removed after), then pushed with this session's token.
   */
  async pushBundle(source: { file: string; dir: string; url: string }): Promise<PushResult> {
    try {
      await cloneBundle(source.file, source.dir, { signal: this.#signal, timeoutMs: this.#gitTimeoutMs });
      return await this.pushMirror({ dir: source.dir, url: source.url });
    } finally {
      await rm(source.dir, { recursive: true, force: true });
    }
  }

  /** Pushes the repository in `dir` into the new, empty project at `url` with this session's token (a restore). */
  async pushMirror(source: { dir: string; url: string }): Promise<PushResult> {
    return pushMirror({
      dir: source.dir,
      url: source.url,
      token: this.#token,
      signal: this.#signal,
      timeoutMs: this.#gitTimeoutMs,
      onRequest: () => {
        this.#gitRequests += 1;
      },
    });
  }
}

/** GitLab through gitbeaker and git: sessions that fetch repositories too. */
export function backupGitLabPort(settings: GitLabSettings & { gitTimeoutMs: number }) {
  return {
    ...gitlabPort(settings),
    session(
      { gitlabUrl, token, kind, login }: { gitlabUrl: string; token: string; kind?: GitLabAuth['kind']; login?: string | null },
      options: GitLabClientOptions = {},
    ): GitLabSessionClient {
      return new GitLabSessionClient(
        { baseUrl: gitlabUrl, token, kind },
        {
          timeoutMs: settings.timeoutMs,
          maxRetryMs: settings.maxRetryMs,
          gitTimeoutMs: settings.gitTimeoutMs,
          observer: settings.observe?.(login ?? null),
          ...options,
        },
      );
    },
  };
}
