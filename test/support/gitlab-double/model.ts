/**
 * What the GitLab double knows: users, their tokens, groups and projects, in memory. Groups and
 * projects are looked up by numeric id or by full path (case-insensitive, as GitLab does).
 */
import { randomBytes } from 'node:crypto';

export interface User {
  id: number;
  username: string;
}

export interface Token {
  id: number;
  value: string;
  name: string;
  userId: number;
  scopes: string[];
  createdAt: string;
  /** YYYY-MM-DD, or null. Personal access tokens only. */
  expiresAt: string | null;
  /** Unix milliseconds. OAuth access tokens only. */
  expiresAtMs: number | null;
  revoked: boolean;
  lastUsedAt: number | null;
  kind: 'personal' | 'oauth';
}

export interface Group {
  id: number;
  path: string;
  fullPath: string;
  parent: Group | null;
  /** Usernames given as members; null: everyone (top-level) or the parent's members (subgroup). */
  members: ReadonlySet<string> | null;
}

export interface ProjectCounts {
  branches: number;
  tags: number;
  issues: number;
  mergeRequests: number;
  labels: number;
  milestones: number;
  /** Each release is on one of the first tags, as a GitLab release is on a tag: a project has no more releases than tags. */
  releases: number;
  /** Per issue and per merge request. */
  notes: number;
}

/** What a project holds when a test does not say. */
export const DEFAULT_COUNTS: ProjectCounts = { branches: 1, tags: 1, issues: 1, mergeRequests: 1, labels: 2, milestones: 1, releases: 1, notes: 2 };

/**
 * The most of each kind a project may have: item ids are made from the project's id and the
 * item's index within these bounds, so that they are unique across projects as GitLab's are.
 */
export const MAX_COUNTS: Pick<ProjectCounts, 'issues' | 'mergeRequests' | 'labels' | 'milestones' | 'notes'> = {
  issues: 999_999,
  mergeRequests: 999_999,
  labels: 99_999,
  milestones: 99_999,
  notes: 999,
};

export type Json = Record<string, unknown>;

/** What was written into a project made through the API, in creation order; notes by the iid of their issue. */
export interface StoredMetadata {
  name: string;
  /** The settings given when it was made, over the defaults. */
  settings: Json;
  labels: Json[];
  milestones: Json[];
  issues: Json[];
  issueNotes: Map<number, Json[]>;
  releases: Json[];
}

export interface Project {
  id: number;
  path: string;
  group: Group;
  counts: ProjectCounts;
  /** Only for a project made through the API: it holds what was written into it instead of made-up items. */
  stored?: StoredMetadata;
}

export function todayUtc(now = Date.now()): string {
  return new Date(now).toISOString().slice(0, 10);
}

export function randomToken(): string {
  return `dbl-${randomBytes(16).toString('hex')}`;
}

export class Model {
  /** Users, groups and projects share one sequence of ids, so that an id of one is never taken for another. */
  private nextId = 1;
  private nextTokenId = 1;
  readonly users = new Map<string, User>();
  private readonly usersById = new Map<number, User>();
  readonly tokens = new Map<string, Token>();
  private readonly groups = new Map<number, Group>();
  private readonly groupsByPath = new Map<string, Group>();
  /** Insertion order is id order: ids only grow. */
  private readonly projects = new Map<number, Project>();
  private readonly projectsByPath = new Map<string, Project>();
  /** Items written through the API take ids far above any made-up one. */
  private nextItemId = 1_000_000_000_000_000;
  /** Project lists per group, dropped on any change to groups or projects. */
  private readonly listCache = new Map<string, Project[]>();

  addUser(username: string): User {
    if (this.users.has(username)) throw new Error(`user ${username} exists`);
    const user = { id: this.nextId++, username };
    this.users.set(username, user);
    this.usersById.set(user.id, user);
    return user;
  }

  userById(id: number): User {
    const user = this.usersById.get(id);
    if (!user) throw new Error(`no user ${id}`);
    return user;
  }

  addToken(fields: Omit<Token, 'id' | 'createdAt' | 'revoked' | 'lastUsedAt'>): Token {
    if (this.tokens.has(fields.value)) throw new Error('token exists');
    const token: Token = { ...fields, id: this.nextTokenId++, createdAt: new Date().toISOString(), revoked: false, lastUsedAt: null };
    this.tokens.set(token.value, token);
    return token;
  }

  /** Whether the token can be used now: not revoked, and not past its expiry date (UTC) or lifetime. */
  isUsable(token: Token, now: number): boolean {
    if (token.revoked) return false;
    if (token.expiresAt !== null && token.expiresAt < todayUtc(now)) return false;
    return token.expiresAtMs === null || now < token.expiresAtMs;
  }

  addGroup(fullPath: string, members: string[] | undefined): Group {
    if (this.groupsByPath.has(fullPath.toLowerCase())) throw new Error(`group ${fullPath} exists`);
    const slash = fullPath.lastIndexOf('/');
    const parent = slash < 0 ? null : this.groupsByPath.get(fullPath.slice(0, slash).toLowerCase());
    if (parent === undefined) throw new Error(`add the parent of ${fullPath} first`);
    const group: Group = { id: this.nextId++, path: fullPath.slice(slash + 1), fullPath, parent, members: members ? new Set(members) : null };
    this.groups.set(group.id, group);
    this.groupsByPath.set(fullPath.toLowerCase(), group);
    this.listCache.clear();
    return group;
  }

  addProject(groupPath: string, path: string, given: Partial<ProjectCounts>): Project {
    const counts: ProjectCounts = { ...DEFAULT_COUNTS, ...given };
    for (const [kind, value] of Object.entries(counts)) {
      const max = MAX_COUNTS[kind as keyof typeof MAX_COUNTS] ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`${kind}: ${value} is not a count from 0 to ${max}`);
    }
    const group = this.groupsByPath.get(groupPath.toLowerCase());
    if (!group) throw new Error(`no group ${groupPath}`);
    if (this.projectsByPath.has(`${group.fullPath}/${path}`.toLowerCase())) throw new Error(`project ${groupPath}/${path} exists`);
    const project: Project = { id: this.nextId++, path, group, counts };
    this.projects.set(project.id, project);
    this.projectsByPath.set(fullPathOf(project).toLowerCase(), project);
    this.listCache.clear();
    return project;
  }

  /** A project made through the API: empty, and holding what is written into it. */
  createProject(group: Group, path: string, name: string): Project {
    const counts: ProjectCounts = { branches: 0, tags: 0, issues: 0, mergeRequests: 0, labels: 0, milestones: 0, releases: 0, notes: 0 };
    const stored: StoredMetadata = { name, settings: {}, labels: [], milestones: [], issues: [], issueNotes: new Map(), releases: [] };
    const project: Project = { id: this.nextId++, path, group, counts, stored };
    this.projects.set(project.id, project);
    this.projectsByPath.set(fullPathOf(project).toLowerCase(), project);
    this.listCache.clear();
    return project;
  }

  /** Whether a project of that path or name is in the group (case-insensitive, as GitLab compares them). */
  projectNamed(group: Group, field: 'path' | 'name', value: string): boolean {
    const wanted = value.toLowerCase();
    return this.projectsOf(group, false).some((p) => (field === 'path' ? p.path : (p.stored?.name ?? p.path)).toLowerCase() === wanted);
  }

  itemId(): number {
    return this.nextItemId++;
  }

  renameProject(id: number, newPath: string): void {
    const project = this.projects.get(id);
    if (!project) throw new Error(`no project ${id}`);
    this.projectsByPath.delete(fullPathOf(project).toLowerCase());
    project.path = newPath;
    this.projectsByPath.set(fullPathOf(project).toLowerCase(), project);
  }

  removeProject(id: number): void {
    const project = this.projects.get(id);
    if (!project) throw new Error(`no project ${id}`);
    this.projects.delete(id);
    this.projectsByPath.delete(fullPathOf(project).toLowerCase());
    this.listCache.clear();
  }

  /** Members of a group see it and its subgroups, as in GitLab; a top-level group without members is everyone's. */
  canSee(group: Group, username: string): boolean {
    for (let g: Group | null = group; g; g = g.parent) {
      if (g.members?.has(username)) return true;
      if (g.members === null && g.parent === null) return true;
    }
    return false;
  }

  /** The group by id or full path, if this user may see it. */
  findGroup(idOrPath: string, username: string): Group | undefined {
    const group = /^\d+$/.test(idOrPath) ? this.groups.get(Number(idOrPath)) : this.groupsByPath.get(idOrPath.toLowerCase());
    return group && this.canSee(group, username) ? group : undefined;
  }

  findProject(idOrPath: string, username: string): Project | undefined {
    const project = /^\d+$/.test(idOrPath) ? this.projects.get(Number(idOrPath)) : this.projectsByPath.get(idOrPath.toLowerCase());
    return project && this.canSee(project.group, username) ? project : undefined;
  }

  /** Subgroups at any depth, by id. */
  descendants(group: Group): Group[] {
    return [...this.groups.values()].filter((g) => g !== group && isWithin(g, group));
  }

  /** The group's projects (with those of its subgroups when asked), by id ascending. */
  projectsOf(group: Group, includeSubgroups: boolean): Project[] {
    const key = `${group.id}:${includeSubgroups}`;
    let list = this.listCache.get(key);
    if (!list) {
      list = [...this.projects.values()].filter((p) => (includeSubgroups ? isWithin(p.group, group) : p.group === group));
      this.listCache.set(key, list);
    }
    return list;
  }
}

export function fullPathOf(project: Project): string {
  return `${project.group.fullPath}/${project.path}`;
}

function isWithin(group: Group, ancestor: Group): boolean {
  for (let g: Group | null = group; g; g = g.parent) if (g === ancestor) return true;
  return false;
}
